import { toPublicFile, type FileRecord } from '../../lib/domain/file';

const base: FileRecord = {
  company_id: 'acme',
  id: '6b3e8f9a-5f0c-4d8e-9a41-2a7f3d9c1b20',
  user_id: 'alice',
  application_id: null,
  created_at: 1,
  updated_at: 2,
};

describe("toPublicFile: Twake's public file object", () => {
  test('an empty create: null metadata and upload_data', () => {
    expect(toPublicFile(base)).toEqual({
      ...base,
      metadata: null,
      thumbnails: [],
      upload_data: null,
      download_url: null,
    });
  });

  test('declared values before any upload', () => {
    expect(toPublicFile({ ...base, declared: { name: 'a.txt', total_chunks: 3 } })).toMatchObject({
      metadata: { name: 'a.txt' },
      upload_data: { size: 0, chunks: 3 },
    });
  });

  test('complete content: metadata, thumbnails with their URLs, real size; no internals', () => {
    const record: FileRecord & { encryption_key?: string } = {
      ...base,
      encryption_key: 'secret',
      declared: { name: 'old.txt', total_size: 1 },
      content: {
        revision: 'r1',
        name: 'photo.jpg',
        mime: 'image/jpeg',
        size: 4718592,
        chunks: 2,
        thumbnails_status: 'done',
        thumbnails: [
          { index: 0, id: '0.webp', type: 'image/webp', size: 9, width: 600, height: 400 },
        ],
      },
    };
    const resource = toPublicFile(record);
    expect(resource).toEqual({
      ...base,
      metadata: { name: 'photo.jpg', mime: 'image/jpeg', thumbnails_status: 'done' },
      thumbnails: [
        {
          index: 0,
          id: '0.webp',
          type: 'image/webp',
          size: 9,
          width: 600,
          height: 400,
          url: `/internal/services/files/v1/companies/acme/files/${base.id}/thumbnails/0`,
        },
      ],
      upload_data: { size: 4718592, chunks: 2, status: 'complete' },
      download_url: null,
    });
    expect(JSON.stringify(resource)).not.toMatch(/encryption_key|revision|declared/);

    const signed = toPublicFile(record, (target) =>
      target.kind === 'download' ? '/d?signed' : `/t/${target.index}?signed`,
    );
    expect(signed.thumbnails[0]?.url).toBe('/t/0?signed');
    expect(signed.download_url).toBe('/d?signed');
  });
});
