/**
 * HEIF and HEIC images (iPhone photos): decoded by libheif compiled to WebAssembly (the
 * libheif-js package, its build with the wasm inlined), which runs wherever the thumbnailer
 * runs, locally and in its Lambda image, with no system library. sharp's prebuilt libvips has
 * no HEVC decoder, and the image's own libvips is not the one sharp loads.
 *
 * Bounded as every renderer: the size is read from the file's boxes before any pixel is
 * decoded and held to the pixel budget; the decode runs in the renderer child (child.ts),
 * whose memory and time are bounded. libheif applies the image's transformations (`irot`,
 * `imir`, `clap`), which is how HEIF stores orientation: EXIF's is informative there.
 */
import libheif from 'libheif-js/wasm-bundle.js';

interface HeifImage {
  get_width(): number;
  get_height(): number;
  display(
    target: { data: Uint8ClampedArray; width: number; height: number },
    done: (result: unknown) => void,
  ): void;
}

export interface DecodedHeif {
  rgba: Buffer;
  width: number;
  height: number;
}

/** The primary image's RGBA pixels; throws on a file with none, or one above `maxPixels`. */
export async function decodeHeif(input: Buffer, maxPixels: number): Promise<DecodedHeif> {
  const decoder = new (
    libheif as { HeifDecoder: new () => { decode(b: Buffer): HeifImage[] } }
  ).HeifDecoder();
  // Reads the boxes only: sizes and where the coded data lies.
  const [image] = decoder.decode(input);
  if (!image) throw new Error('libheif found no image in the HEIF file');
  const width = image.get_width();
  const height = image.get_height();
  if (!(width > 0 && height > 0) || width * height > maxPixels) {
    throw new Error(`${width}x${height} HEIF image: above the ${maxPixels}-pixel budget`);
  }
  const data = new Uint8ClampedArray(width * height * 4);
  await new Promise<void>((resolve, reject) => {
    image.display({ data, width, height }, (result) =>
      result ? resolve() : reject(new Error('libheif could not decode the image')),
    );
  });
  return { rgba: Buffer.from(data.buffer, data.byteOffset, data.byteLength), width, height };
}
