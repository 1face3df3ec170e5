/** How a page's examples are read and compared (examples.ts); the pages themselves run in docs-examples.test.ts. */
import { describe, expect, it } from 'vitest'
import { examplesOf, matchesShown, prepareCommand } from './examples.js'

describe('examplesOf', () => {
  it('pairs a sh block with the json or text block right after it, and skips no-run blocks', () => {
    const page = [
      '```sh', 'curl a', '```', '', '```json', '{"a":1}', '```',
      'prose', '```sh', 'curl b', '```', 'prose between', '```json', '{"b":2}', '```',
      '```sh no-run', 'docker run x', '```', '```text', 'out', '```',
      '```yaml', 'routes: {}', '```',
    ].join('\n')
    expect(examplesOf(page)).toEqual([
      { line: 1, command: 'curl a', shown: '{"a":1}', shownLang: 'json' },
      { line: 9, command: 'curl b', shown: null, shownLang: 'text' },
    ])
  })
})

describe('prepareCommand', () => {
  it('points the example at the test gateway and the built CLI, and leaves npm start to the test', () => {
    const { script, startsGateway } = prepareCommand('npm start\ncurl -s localhost:8080/v2\nnode dist/cli.js models\nnode scripts/grpc-infer.mjs 127.0.0.1:8081 ServerLive', { root: '/repo/', port: 3001, grpcPort: 3002 })
    expect(startsGateway).toBe(true)
    expect(script).toBe('curl -s 127.0.0.1:3001/v2\nnode /repo/dist/cli.js models\nnode /repo/scripts/grpc-infer.mjs 127.0.0.1:3002 ServerLive')
  })
})

describe('matchesShown', () => {
  it.each([
    ['{"p":0.2709}', '{"p":0.27093}', true],
    ['{"p":0.2709}', '{"p":0.27096}', true], // cut, not rounded
    ['{"p":0.2710}', '{"p":0.27096}', true], // rounded
    ['{"p":0.2709}', '{"p":0.2711}', false],
    ['{"p":0.2709}', '{"p":0.2699}', false],
    ['{"n":2}', '{"n":1}', false], // integers are exact
    ['{"p":7.29e-7}', '{"p":7.28891791368369e-7}', true],
    ['{"p":7.29e-7}', '{"p":7.1e-7}', false],
    ['{"id":"…","n":1}', '{"id":"019a2b","n":1}', true],
    ['{"a":[1,\n  2]}', '{"a":[1,2]}', true], // whitespace outside strings does not count
    ['{"s":"a b"}', '{"s":"ab"}', false], // inside strings it does
    ['{"v":"v1"}', '{"v":"v2"}', false],
    ['{"x":1,…}', '{"x":1,"y":[1,2,3]}', true],
    ['{"x":1,…}', '{"x":2,"y":3}', false],
  ])('json %s against %s: %s', (shown, printed, expected) => {
    expect(matchesShown(shown, printed, 'json')).toBe(expected)
  })

  it('compares text tables up to the width of their columns', () => {
    expect(matchesShown('ID  MODEL\n…   iris', 'ID           MODEL\n0193-abcd    iris\n', 'text')).toBe(true)
    expect(matchesShown('ID  MODEL\n…   iris', 'ID MODEL\n0193 credit-risk', 'text')).toBe(false)
  })
})
