import type { Readable } from 'node:stream';
import { ImageUploadQuery, Operation } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';

/**
 * `POST /api/v1/images/upload?name=...`: the body is the image file, streamed to the image store
 * (never buffered), checked, then converted in an operation (202).
 */
export function registerImageUpload(app: ServerApp, deps: ServerDeps): void {
  // The raw request stream: ImageService bounds and hashes it as it arrives.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => {
    done(null, payload);
  });
  app.post(
    '/api/v1/images/upload',
    {
      config: { permission: 'image.import', scope: 'query' },
      schema: {
        summary: 'Upload an image file (a disk image or an OVA)',
        description:
          'The request body (`Content-Type: application/octet-stream`) is the file: qcow2, raw, VMDK, VHD (vpc), VHDX, VDI, or an OVA whose boot disk is taken. It is checked before anything is stored (`400 IMAGE_INVALID`), then converted to qcow2 in an `image.import` operation.',
        querystring: ImageUploadQuery,
        response: { 202: Operation },
      },
    },
    async (request, reply) => {
      const operation = await deps.images.upload(request.query, request.body as Readable);
      return reply.status(202).send(operation);
    },
  );
}
