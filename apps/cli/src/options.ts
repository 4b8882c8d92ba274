import { InvalidArgumentError, Option, type Command } from 'commander';
import { OUTPUT_FORMATS } from './output.js';

/** `-o/--output table|json|yaml`, which every command takes. */
export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS);
}

export function withOutput(command: Command): Command {
  return command.addOption(outputOption());
}

/** Commander argument parser for a whole number within bounds. */
export function integerArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const number = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(number) || number < min || number > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
    }
    return number;
  };
}
