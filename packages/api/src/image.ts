import { Type, type Static } from 'typebox';
import { Name, Page, Timestamp } from './common.js';
import { KERNEL_ARGS_PATTERN } from './vm.js';

/** `kernel`: a kernel and initramfs booted directly; `disk`: a bootable disk image. */
export const ImageKind = Type.Union([Type.Literal('kernel'), Type.Literal('disk')]);
export type ImageKind = Static<typeof ImageKind>;

export const ImageStatus = Type.Union([
  Type.Literal('importing'),
  Type.Literal('ready'),
  Type.Literal('failed'),
]);
export type ImageStatus = Static<typeof ImageStatus>;

export const Image = Type.Object({
  id: Type.String(),
  name: Type.String(),
  project: Type.String(),
  kind: ImageKind,
  status: ImageStatus,
  builtin: Type.Boolean(),
  sizeBytes: Type.Integer(),
  /** Kernel arguments every VM of this image boots with; a VM's own are appended. */
  defaultKernelArgs: Type.String(),
  /** SHA-256 of the image files, so a host can verify what it caches. */
  sha256: Type.String(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Image = Static<typeof Image>;

export const ImagePage = Page(Image);
export type ImagePage = Static<typeof ImagePage>;

const ImageUrl = Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 });

/** A SHA-256 digest as 64 lowercase hex digits. */
export const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });

/**
 * Import an image by URL, on the server: either `url` (a disk image: qcow2, raw, VMDK, VHD/VHDX,
 * VDI, or an OVA whose boot disk is taken; stored as qcow2) or `kernelUrl` and `initrdUrl` together (booted directly). An expected
 * SHA-256 of a download is checked against the bytes as they arrive, before anything reads them.
 */
export const ImageImport = Type.Object(
  {
    name: Name,
    project: Type.Optional(Name),
    url: Type.Optional(ImageUrl),
    kernelUrl: Type.Optional(ImageUrl),
    initrdUrl: Type.Optional(ImageUrl),
    /** Expected SHA-256 of the bytes `url` serves; a mismatch fails the import (IMAGE_CORRUPT). */
    sha256: Type.Optional(Sha256Hex),
    /** Expected SHA-256 of the bytes `kernelUrl` serves. */
    kernelSha256: Type.Optional(Sha256Hex),
    /** Expected SHA-256 of the bytes `initrdUrl` serves. */
    initrdSha256: Type.Optional(Sha256Hex),
    defaultKernelArgs: Type.Optional(
      Type.String({ maxLength: 1024, pattern: KERNEL_ARGS_PATTERN }),
    ),
  },
  { additionalProperties: false },
);
export type ImageImport = Static<typeof ImageImport>;

/**
 * `POST /api/v1/images/upload?name=...`: the request body (application/octet-stream) is the
 * image file itself: a disk image (qcow2, raw, VMDK, VHD/VHDX, VDI) or an OVA, checked before
 * anything is stored and converted to qcow2 in an operation.
 */
export const ImageUploadQuery = Type.Object(
  {
    name: Name,
    project: Type.Optional(Name),
    /** Expected SHA-256 of the uploaded bytes; a mismatch refuses the upload (IMAGE_CORRUPT). */
    sha256: Type.Optional(Sha256Hex),
  },
  { additionalProperties: false },
);
export type ImageUploadQuery = Static<typeof ImageUploadQuery>;
