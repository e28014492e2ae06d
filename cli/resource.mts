/** The service's file resource, the fields the CLI reads (openapi.yaml's `File`). */
export interface Thumbnail {
  index: number;
  type: string;
  size: number;
  width: number;
  height: number;
  url: string;
}

export interface FileResource {
  company_id: string;
  id: string;
  user_id: string | null;
  application_id: string | null;
  created_at: number;
  updated_at: number;
  metadata: { name?: string; mime?: string; thumbnails_status?: string } | null;
  thumbnails: Thumbnail[];
  upload_data: {
    size: number;
    chunks: number;
    status?: 'uploading' | 'assembling' | 'complete';
    checksum?: { algorithm: string; value: string };
  } | null;
  download_url: string | null;
}

export const complete = (resource: FileResource): boolean =>
  resource.upload_data?.status === 'complete';
