/** npm run docs:config: write docs/configuration.md from the option declarations. */
import { writeFileSync } from 'node:fs'
import { configurationDoc } from '../src/config/configuration-doc.js'

writeFileSync(new URL('../docs/configuration.md', import.meta.url), configurationDoc())
