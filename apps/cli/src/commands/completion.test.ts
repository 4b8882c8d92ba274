import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { bashCompletion } from './completion.js';

const run = promisify(execFile);

function tree(): Command {
  const program = new Command('novacron').option('-o, --output <format>');
  const vm = program.command('vm');
  vm.command('create').option('--image <img>').option('--wait');
  vm.command('list');
  program.command('host').command('list');
  return program;
}

/** What bash completes after typing `line` (the last word may be partial). */
async function complete(line: string): Promise<string[]> {
  const words = line.split(' ');
  const script = `${bashCompletion(tree())}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_novacron; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const { stdout } = await run('bash', ['-c', script]);
  return stdout.split('\n').filter(Boolean).sort();
}

describe('bash completion', () => {
  it('completes subcommands and options from the command tree', async () => {
    expect(await complete('novacron ')).toEqual(['--help', '--output', '-o', 'host', 'vm'].sort());
    expect(await complete('novacron vm ')).toEqual(['--help', 'create', 'list']);
    expect(await complete('novacron vm create demo --i')).toEqual(['--image']);
    expect(await complete('novacron -o json vm l')).toEqual(['list']);
  });
});
