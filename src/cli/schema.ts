/** switchyard schema: print the JSON Schema of routes.yaml (npm run schema writes it to schemas/). */
import { Command } from 'commander'
import { routesJsonSchema } from '../config/routes-json-schema.js'
import { exitWith } from './command.js'

export function schemaCommand(): Command {
  return new Command('schema')
    .description('print the JSON Schema of routes.yaml (editors use schemas/routes.schema.json)')
    .action(exitWith(async () => {
      process.stdout.write(routesJsonSchema())
      return 0
    }))
}
