import { config } from '../config';
import type { Thumbnailer } from '../domain/ports';
import { renderThumbnails } from './render';

/** The previewers as the domain's port, with the configured input limits. */
export const thumbnailer: Thumbnailer = {
  render: (bytes, file) =>
    renderThumbnails(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), file, {
      maxPixels: config.thumbnailMaxPixels,
      timeoutMs: config.thumbnailTimeoutSeconds * 1000,
      kinds: { office: config.officePreviews },
    }),
};
