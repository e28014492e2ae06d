import { DomainError } from '../../lib/domain/errors';
import { parseUploadParams } from '../../lib/http/upload-params';

function rejection(query: Record<string, string>): DomainError {
  try {
    parseUploadParams(query);
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(query)}`);
}

describe('parseUploadParams', () => {
  test('defaults when nothing is given', () => {
    expect(parseUploadParams({})).toEqual({
      filename: undefined,
      mime: undefined,
      totalChunks: undefined,
      totalSize: undefined,
      chunkNumber: undefined,
      thumbnailSync: false,
    });
  });

  test("Twake's names", () => {
    expect(
      parseUploadParams({
        filename: 'a.png',
        type: 'image/png',
        total_chunks: '3',
        total_size: '12345',
        chunk_number: '2',
        thumbnail_sync: '1',
      }),
    ).toEqual({
      filename: 'a.png',
      mime: 'image/png',
      totalChunks: 3,
      totalSize: 12345,
      chunkNumber: 2,
      thumbnailSync: true,
    });
  });

  test("resumable.js's names win over Twake's", () => {
    expect(
      parseUploadParams({
        filename: 'twake.png',
        resumableFilename: 'resumable.png',
        type: 'image/png',
        resumableType: 'image/gif',
        total_chunks: '9',
        resumableTotalChunks: '4',
        total_size: '1',
        resumableTotalSize: '2',
        chunk_number: '1',
        resumableChunkNumber: '4',
      }),
    ).toMatchObject({
      filename: 'resumable.png',
      mime: 'image/gif',
      totalChunks: 4,
      totalSize: 2,
      chunkNumber: 4,
    });
  });

  test('an empty resumable value falls back to the Twake one (resumable sends "" for no type)', () => {
    expect(parseUploadParams({ resumableType: '', type: 'text/plain' }).mime).toBe('text/plain');
  });

  test.each(['abc', '-1', '1.5', '1e3', ' 7', '0x10', '9007199254740993'])(
    'total_size=%p is a 400 naming the parameter',
    (value) => {
      const error = rejection({ total_size: value });
      expect(error.kind).toBe('BadRequest');
      expect(error.message).toContain('total_size');
    },
  );

  test('the message names the alias that was sent', () => {
    expect(rejection({ resumableTotalSize: 'x' }).message).toContain('resumableTotalSize');
  });

  test.each([
    [{ total_chunks: '0' }, 'total_chunks'],
    [{ total_chunks: '10001' }, 'total_chunks'],
    [{ chunk_number: '0' }, 'chunk_number'],
    [{ chunk_number: '10001' }, 'chunk_number'],
    [{ chunk_number: '6', total_chunks: '5' }, 'chunk_number'],
    [{ chunk_number: 'abc', total_chunks: '5' }, 'chunk_number'],
    [{ type: 'text/plain\r\nX-Evil: 1' }, 'type'],
    [{ type: 'text/plain; a=\u0001' }, 'type'],
    [{ resumableType: 'text/plain; charset=€' }, 'resumableType'],
    [{ filename: 'x'.repeat(1025) }, 'filename'],
    // 342 characters, 1,026 bytes: the limit counts bytes, not characters.
    [{ resumableFilename: '€'.repeat(342) }, 'resumableFilename'],
  ])('%p is a 400 naming %s', (query, param) => {
    const error = rejection(query);
    expect(error.kind).toBe('BadRequest');
    expect(error.message).toContain(param);
  });

  test('chunk_number up to total_chunks, total_chunks up to 10000', () => {
    expect(parseUploadParams({ chunk_number: '10000', total_chunks: '10000' })).toMatchObject({
      chunkNumber: 10000,
      totalChunks: 10000,
    });
  });

  test.each([
    ['1', true],
    ['true', true],
    ['TRUE', true],
    ['0', false],
    ['false', false],
    ['yes', false],
  ])('thumbnail_sync=%p waits: %p', (value, expected) => {
    expect(parseUploadParams({ thumbnail_sync: value }).thumbnailSync).toBe(expected);
  });

  test.each([
    // Twake puts the type in the query unencoded: its + arrives as a space.
    ['image/svg xml', 'image/svg+xml'],
    ['application/epub zip', 'application/epub+zip'],
    ['application/vnd.api json; charset=utf-8', 'application/vnd.api+json; charset=utf-8'],
    [' image/png ', 'image/png'],
    ['image / png', 'image/png'],
  ])('the type %p is read as %p', (type, mime) => {
    expect(parseUploadParams({ type }).mime).toBe(mime);
  });

  test.each(['not a mime', 'png', '/', `image/${'x'.repeat(300)}`])(
    'a type that names no usable MIME type (%p) is left to the part or the extension',
    (type) => {
      expect(parseUploadParams({ type }).mime).toBeUndefined();
    },
  );

  test('a name of exactly 1,024 bytes is taken', () => {
    const filename = '€'.repeat(340) + '.txt'; // 1,020 + 4 bytes
    expect(parseUploadParams({ filename }).filename).toBe(filename);
  });

  test('MIME types keep their parameters and are lower-cased', () => {
    expect(parseUploadParams({ type: 'Text/Plain; charset=UTF-8' }).mime).toBe(
      'text/plain; charset=utf-8',
    );
  });
});
