import type { Command } from 'commander';
import { formatOf, type CliContext } from '../context.js';
import { withOutput } from '../options.js';
import { imageColumns, imageFields, renderList, renderOne } from '../output.js';
import { listAll } from '../paging.js';

export function registerImageCommands(program: Command, ctx: CliContext): void {
  const image = program.command('image').description('images VMs boot from');

  withOutput(image.command('list').description('list images')).action(
    async (_options: unknown, command: Command) => {
      const client = await ctx.client();
      const images = await listAll((cursor) => client.images.list({ cursor }));
      ctx.print(renderList(formatOf(command) ?? 'table', images, imageColumns));
    },
  );

  withOutput(
    image.command('get').description('show one image').argument('<name>', 'image name or id'),
  ).action(async (name: string, _options: unknown, command: Command) => {
    const client = await ctx.client();
    ctx.print(renderOne(formatOf(command) ?? 'table', await client.images.get(name), imageFields));
  });
}
