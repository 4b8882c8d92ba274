import { Argument, type Command } from 'commander';
import type { CliContext } from '../context.js';

/** Flags that take a value: the word after them is not a command. */
function valueFlags(command: Command): string[] {
  const own = command.options
    .filter((o) => o.required || o.optional)
    .flatMap((o) => [o.long, o.short].filter((f): f is string => !!f));
  return [...new Set([...own, ...command.commands.flatMap(valueFlags)])].sort();
}

interface Node {
  path: string[];
  subcommands: string[];
  options: string[];
}

/** Every command of the tree with its subcommands and options, read from commander itself. */
function walk(command: Command, path: string[] = []): Node[] {
  const options = command.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f));
  const subcommands = command.commands.map((c) => c.name());
  const here: Node = { path, subcommands, options: [...options, '--help'] };
  return [here, ...command.commands.flatMap((c) => walk(c, [...path, c.name()]))];
}

/** A bash completion script generated from the live command tree, so it never goes stale. */
export function bashCompletion(program: Command): string {
  const cases = walk(program)
    .map((node) => {
      const key = node.path.join(' ');
      const words = [...node.subcommands, ...node.options].join(' ');
      return `    "${key}") words="${words}" ;;`;
    })
    .join('\n');
  const takesValue = valueFlags(program).join('|') || '--never-a-flag';
  return `# novacron bash completion: eval "$(novacron completion bash)"
_novacron() {
  local cur path="" word words skip=""
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for word in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    if [[ -n "$skip" ]]; then skip=""; continue; fi
    case "$word" in
      ${takesValue}) skip=1 ;;
      -*) ;;
      *) path="\${path:+$path }$word" ;;
    esac
  done
  while :; do
    case "$path" in
${cases}
    *) if [[ "$path" == *" "* ]]; then path="\${path% *}"; continue; fi; words="" ;;
    esac
    break
  done
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -F _novacron novacron
`;
}

export function registerCompletionCommand(program: Command, ctx: CliContext): void {
  program
    .command('completion')
    .description('print a shell completion script (bash): eval "$(novacron completion bash)"')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash']))
    .action(() => {
      ctx.deps.stdout.write(bashCompletion(program));
    });
}
