/**
 * What every switchyard command shares on top of commander: a mistake on the command line is
 * one line on stderr and exit 2, --help and --version go to stdout with exit 0, and a command's
 * action returns its own exit code (1 when what it was asked to do failed).
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander'

/** The exit code of a command line that could not be understood. */
export const EXIT_USAGE = 2

/** A command whose action resolves to its exit code. */
export type Action<A extends unknown[]> = (...args: A) => Promise<number>

/**
 * Set on every command of the tree: errors as one line naming the command, commander's own
 * exit replaced by a thrown CommanderError that runCli turns into an exit code.
 */
export function settleCommandTree(command: Command, path = command.name()): void {
  command.exitOverride()
  command.configureOutput({
    outputError: (text, write) => {
      const line = text.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()
      write(`switchyard${path === 'switchyard' ? '' : ` ${path}`}: ${line} (see switchyard${path === 'switchyard' ? '' : ` ${path}`} --help)\n`)
    },
  })
  for (const sub of command.commands) settleCommandTree(sub, path === 'switchyard' ? sub.name() : `${path} ${sub.name()}`)
}

/** Parse the command line and run the chosen action; resolves to the process's exit code. */
export async function runCli(program: Command, argv: readonly string[]): Promise<number> {
  try {
    await program.parseAsync(argv as string[], { from: 'user' })
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE
    throw err
  }
}

/** Wrap a command's action so that the number it resolves to becomes the exit code. */
export function exitWith<A extends unknown[]>(action: Action<A>): (...args: A) => Promise<void> {
  return async (...args) => {
    process.exitCode = await action(...args)
  }
}

/**
 * An option or argument reader for commander from a function that throws a plain Error whose
 * message says what is expected; commander then reports it as a usage mistake (exit 2).
 */
export function reader<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text)
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message)
    }
  }
}

/** A usage mistake found inside an action (e.g. a missing argument of a sub-action): one line, exit 2. */
export function usageError(command: Command, message: string): never {
  command.error(message, { exitCode: EXIT_USAGE, code: 'switchyard.usage' })
}

/**
 * A command that only groups sub-commands (stage, token): named without one, or with one that
 * does not exist, it says so in one line instead of printing its help as an error.
 */
export function groupOf(command: Command): Command {
  const names = () => command.commands.map((c) => c.name()).filter((n) => n !== 'help')
  return command.argument('[action...]').action((words: string[]) => {
    if (words.length === 0) usageError(command, `which one? ${names().join(', ')}`)
    usageError(command, `unknown action '${words[0]}'; use ${names().join(', ')}`)
  })
}
