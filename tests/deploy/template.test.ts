import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import JSZip from 'jszip';
import {
  EXAMPLE_THUMBNAILER_IMAGE,
  packageService,
  type Template,
} from '../../scripts/deploy/package-service';
import { bundleThumbnailer } from '../../scripts/image/bundle';

// The deployable template, as `npm run package` builds it offline for a production stage.

interface Statement {
  Effect: string;
  Action: string[];
  Resource: unknown;
  Condition?: unknown;
}

const STAGE = 'prod';
const IMAGE = EXAMPLE_THUMBNAILER_IMAGE;
const root = path.resolve(__dirname, '../..');
let outDir: string;
let template: Template;

beforeAll(async () => {
  outDir = await mkdtemp(path.join(tmpdir(), 'serverless-files-package-'));
  template = await packageService(STAGE, outDir, { thumbnailerImage: IMAGE });
}, 180_000);

afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

const resource = (name: string) => {
  const found = template.Resources[name];
  if (!found) throw new Error(`no ${name} in the template`);
  return found;
};
const props = (name: string) => resource(name).Properties as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const FUNCTIONS = {
  createFile: 'http',
  uploadToFile: 'http',
  getFile: 'http',
  downloadFile: 'http',
  getThumbnail: 'http',
  deleteFile: 'http',
  createDirectUpload: 'http',
  signDirectPart: 'http',
  listDirectParts: 'http',
  completeDirectUpload: 'http',
  abortDirectUpload: 'http',
  openapi: 'http',
  docs: 'http',
  health: 'http',
  makeThumbnails: 's3',
  sweep: 'schedule',
  assembleUpload: 'async',
} as const;
type FunctionName = keyof typeof FUNCTIONS;
const logicalId = (fn: string) => `${fn[0]!.toUpperCase()}${fn.slice(1)}`;

/** A function's own statements, its log statement aside; resources rendered as text. */
function statementsOf(
  fn: FunctionName,
): Array<{ actions: string[]; resources: string[]; condition?: unknown }> {
  const role = props(`${logicalId(fn)}IamRoleLambdaExecution`);
  const statements = (
    role.Policies as Array<{ PolicyDocument: { Statement: Statement[] } }>
  ).flatMap((policy) => policy.PolicyDocument.Statement);
  return statements.map((statement) => ({
    actions: [...statement.Action].sort(),
    resources: [statement.Resource]
      .flat()
      .map((entry) => (typeof entry === 'string' ? entry : JSON.stringify(entry))),
    ...(statement.Condition !== undefined && { condition: statement.Condition }),
  }));
}

/** Every action a function's role allows, with the resources it allows it on. */
function allowed(fn: FunctionName): Map<string, string[]> {
  const actions = new Map<string, string[]>();
  for (const statement of statementsOf(fn)) {
    for (const action of statement.actions) {
      actions.set(action, [...(actions.get(action) ?? []), ...statement.resources]);
    }
  }
  return actions;
}

describe('functions', () => {
  test.each(Object.keys(FUNCTIONS))(
    '%s runs Node 24 on arm64 with its own role and log retention',
    (fn) => {
      const lambda = props(`${logicalId(fn)}LambdaFunction`);
      // The thumbnailer's Node is its image's (the Dockerfile's base, checked below).
      if (fn !== 'makeThumbnails') expect(lambda['Runtime']).toBe('nodejs24.x');
      expect(lambda['Architectures']).toEqual(['arm64']);
      expect(lambda['Role']).toEqual({
        'Fn::GetAtt': [`${logicalId(fn)}IamRoleLambdaExecution`, 'Arn'],
      });
      expect(props(`${logicalId(fn)}LogGroup`)['RetentionInDays']).toBe(30);
    },
  );

  test('no role is shared, none is left unused', () => {
    const roles = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::IAM::Role');
    expect(roles.map(([name]) => name).sort()).toEqual(
      [
        ...Object.keys(FUNCTIONS).map((fn) => `${logicalId(fn)}IamRoleLambdaExecution`),
        // osls's custom resource that sets the bucket notification (`existing: true`).
        'IamRoleCustomResourcesLambdaExecution',
      ].sort(),
    );
  });

  test("HTTP functions answer within API Gateway's 30 s; memory and timeouts are fitted to the work", () => {
    const sizing = Object.fromEntries(
      Object.keys(FUNCTIONS).map((fn) => {
        const lambda = props(`${logicalId(fn)}LambdaFunction`);
        return [fn, [lambda['MemorySize'], lambda['Timeout']]];
      }),
    );
    expect(sizing).toEqual({
      createFile: [1024, 29],
      uploadToFile: [1024, 29],
      getFile: [256, 10],
      downloadFile: [256, 10],
      getThumbnail: [256, 10],
      deleteFile: [512, 29],
      createDirectUpload: [256, 10],
      signDirectPart: [256, 10],
      listDirectParts: [256, 10],
      completeDirectUpload: [256, 29],
      abortDirectUpload: [256, 10],
      openapi: [256, 5],
      docs: [256, 5],
      health: [256, 5],
      makeThumbnails: [2048, 60],
      sweep: [512, 900],
      assembleUpload: [1024, 900],
    });
  });

  test('the assembler runs with a small young generation (it streams whole files)', () => {
    const variables = props('AssembleUploadLambdaFunction')['Environment'].Variables;
    expect(variables.NODE_OPTIONS).toBe('--max-semi-space-size=2');
  });

  test('the thumbnailer is the container image the stack is given, running its handler; no function has a layer', () => {
    const lambda = props('MakeThumbnailsLambdaFunction');
    expect(lambda['PackageType']).toBe('Image');
    expect(lambda['Code']).toEqual({ ImageUri: IMAGE });
    expect(lambda['ImageConfig']).toEqual({ Command: ['functions/s3/make-thumbnails.handler'] });
    expect(lambda['Handler']).toBeUndefined();
    expect(lambda['EphemeralStorage']).toEqual({ Size: 1024 });
    for (const fn of Object.keys(FUNCTIONS)) {
      expect(props(`${logicalId(fn)}LambdaFunction`)['Layers']).toBeUndefined();
    }
    expect(Object.values(template.Resources).map((r) => r.Type)).not.toContain(
      'AWS::Lambda::LayerVersion',
    );
  });

  test("the image: the project's Node on a pinned Debian, the system packages the tests run on, the stack's command", async () => {
    const dockerfile = await readFile(path.join(root, 'Dockerfile'), 'utf8');
    const { devDependencies } = JSON.parse(
      await readFile(path.join(root, 'package.json'), 'utf8'),
    ) as { devDependencies: Record<string, string> };
    expect(dockerfile).toContain(`ARG BASE=node:${devDependencies['node']}-bookworm-slim\n`);
    expect(dockerfile.match(/^FROM .*/gm)).toEqual([
      'FROM ${BASE} AS bundle',
      'FROM ${BASE} AS modules',
      'FROM ${BASE}',
    ]);
    expect(dockerfile).toContain('CMD ["functions/s3/make-thumbnails.handler"]');
    // setup.sh installs the image's packages on the machines the tests run on.
    expect(await readFile(path.join(root, 'scripts/setup.sh'), 'utf8')).toContain(
      'image/debian-packages.txt',
    );
    const packages = (await readFile(path.join(root, 'image/debian-packages.txt'), 'utf8'))
      .split('\n')
      .filter((line) => line && !line.startsWith('#'));
    expect(packages).toEqual(
      expect.arrayContaining(['libreoffice-writer-nogui', 'ffmpeg', 'fonts-liberation2']),
    );
  });

  test("the image's packages are the project's versions, pinned by its lock file, with arm64 natives and no AWS SDK", async () => {
    const read = async (file: string) =>
      JSON.parse(await readFile(path.join(root, file), 'utf8')) as {
        dependencies: Record<string, string>;
        devDependencies: Record<string, string>;
        packages: Record<string, { version?: string }>;
      };
    const [image, project, lock] = await Promise.all([
      read('image/package.json'),
      read('package.json'),
      read('image/package-lock.json'),
    ]);
    for (const [name, version] of Object.entries(image.dependencies)) {
      expect([name, project.dependencies[name] ?? project.devDependencies[name]]).toEqual([
        name,
        version,
      ]);
      expect(lock.packages[`node_modules/${name}`]?.version).toBe(version);
    }
    const packages = Object.keys(lock.packages).filter(Boolean);
    expect(packages.filter((name) => /node_modules\/@(aws-sdk|smithy)\//.test(name))).toEqual([]);
    expect(packages).toEqual(
      expect.arrayContaining([
        'node_modules/@img/sharp-linux-arm64',
        'node_modules/@napi-rs/canvas-linux-arm64-gnu',
      ]),
    );
  });

  test('the thumbnailer reaches S3 and DynamoDB only: private subnets, no way to the internet', () => {
    const lambda = props('MakeThumbnailsLambdaFunction');
    expect(lambda['VpcConfig']).toEqual({
      SecurityGroupIds: [{ Ref: 'ThumbnailerSecurityGroup' }],
      SubnetIds: [{ Ref: 'ThumbnailerSubnetA' }, { Ref: 'ThumbnailerSubnetB' }],
    });
    for (const fn of Object.keys(FUNCTIONS).filter((name) => name !== 'makeThumbnails')) {
      expect(props(`${logicalId(fn)}LambdaFunction`)['VpcConfig']).toBeUndefined();
    }
    const types = Object.values(template.Resources).map((r) => r.Type);
    for (const way of [
      'AWS::EC2::InternetGateway',
      'AWS::EC2::EgressOnlyInternetGateway',
      'AWS::EC2::NatGateway',
      'AWS::EC2::VPCGatewayAttachment',
      'AWS::EC2::TransitGatewayAttachment',
      'AWS::EC2::VPCPeeringConnection',
      'AWS::EC2::Route',
    ]) {
      expect(types).not.toContain(way);
    }
    // Both subnets use the one route table, which only the gateway endpoints add routes to.
    for (const subnet of ['ThumbnailerSubnetA', 'ThumbnailerSubnetB']) {
      expect(props(subnet)['VpcId']).toEqual({ Ref: 'ThumbnailerVpc' });
      expect(props(`${subnet}Routes`)).toEqual({
        SubnetId: { Ref: subnet },
        RouteTableId: { Ref: 'ThumbnailerRouteTable' },
      });
    }
    const endpoints = Object.entries(template.Resources).filter(
      ([, r]) => r.Type === 'AWS::EC2::VPCEndpoint',
    );
    expect(
      endpoints.map(([, r]) => [
        JSON.stringify(r.Properties['ServiceName']),
        r.Properties['VpcEndpointType'],
        r.Properties['RouteTableIds'],
      ]),
    ).toEqual([
      [
        JSON.stringify({ 'Fn::Sub': 'com.amazonaws.${AWS::Region}.s3' }),
        'Gateway',
        [{ Ref: 'ThumbnailerRouteTable' }],
      ],
      [
        JSON.stringify({ 'Fn::Sub': 'com.amazonaws.${AWS::Region}.dynamodb' }),
        'Gateway',
        [{ Ref: 'ThumbnailerRouteTable' }],
      ],
    ]);
    // Through them, only this stack's bucket and files table.
    const policyText = JSON.stringify(endpoints.map(([, r]) => r.Properties['PolicyDocument']));
    expect(policyText).toContain(`:s3:::serverless-files-${STAGE}-data/files/*`);
    expect(policyText).toContain(`:table/serverless-files-${STAGE}-files`);
    expect(policyText).not.toContain('"Resource":"*"');
    const group = props('ThumbnailerSecurityGroup');
    expect(group['SecurityGroupIngress']).toBeUndefined();
    expect(group['SecurityGroupEgress']).toEqual([
      { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '0.0.0.0/0' },
    ]);
    // Lambda's network interfaces in the VPC: AWS's managed policy, on this role only.
    const managed = (fn: string) =>
      JSON.stringify(props(`${logicalId(fn)}IamRoleLambdaExecution`)['ManagedPolicyArns'] ?? []);
    expect(managed('makeThumbnails')).toContain('AWSLambdaVPCAccessExecutionRole');
    for (const fn of Object.keys(FUNCTIONS).filter((name) => name !== 'makeThumbnails')) {
      expect(managed(fn)).toBe('[]');
    }
  });

  test('the JWT secret is read from SSM at run time, never written in the template', () => {
    const text = JSON.stringify(template);
    expect(text).not.toContain('local-development-secret');
    for (const fn of Object.keys(FUNCTIONS)) {
      const variables = props(`${logicalId(fn)}LambdaFunction`)['Environment'].Variables;
      expect(variables.JWT_SECRET).toBe('');
      expect(variables.JWT_SECRET_PARAMETER).toBe(`/serverless-files/${STAGE}/jwt-secret`);
      expect(variables.S3_ENDPOINT).toBe('');
      expect(variables.DYNAMODB_ENDPOINT).toBe('');
    }
  });

  test('reads by ids alone are off unless a deployment opts in; read links live a day', () => {
    for (const fn of Object.keys(FUNCTIONS)) {
      const variables = props(`${logicalId(fn)}LambdaFunction`)['Environment'].Variables;
      expect(variables.TOKENLESS_READS).toBe('false');
      expect(variables.READ_LINK_TTL_SECONDS).toBe('86400');
      // The thumbnailer's image carries LibreOffice.
      expect(variables.OFFICE_PREVIEWS).toBe('true');
    }
  });
});

describe('least-privilege roles', () => {
  const sub = (arn: string) => JSON.stringify({ 'Fn::Sub': arn });
  const table = (name: string) =>
    sub(
      `arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/serverless-files-${STAGE}-${name}`,
    );
  const objects = (pattern: string) =>
    sub(`arn:\${AWS::Partition}:s3:::serverless-files-${STAGE}-data/${pattern}`);
  const bucket = sub(`arn:\${AWS::Partition}:s3:::serverless-files-${STAGE}-data`);
  const secret = sub(
    `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/serverless-files/${STAGE}/jwt-secret`,
  );
  const assembler = sub(
    `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:serverless-files-${STAGE}-assembleUpload`,
  );
  const all = [objects('files/*'), objects('uploads/*')];
  // Chunks, parts and data: everything under both prefixes (PutObject covers the multipart calls).
  const readWriteObjects = {
    's3:PutObject': all,
    's3:GetObject': all,
    's3:DeleteObject': all,
    's3:AbortMultipartUpload': all,
    's3:ListBucket': [bucket],
  };

  // Action -> resources, per function: exactly what each one's code calls.
  const expected: Record<FunctionName, Record<string, string[]>> = {
    createFile: {
      'ssm:GetParameter': [secret],
      'dynamodb:GetItem': [table('members'), table('files')],
      'dynamodb:PutItem': [table('files'), table('uploads')],
      'dynamodb:UpdateItem': [table('files'), table('uploads')],
      'dynamodb:Query': [table('uploads')],
      ...readWriteObjects,
    },
    uploadToFile: {
      'ssm:GetParameter': [secret],
      'dynamodb:BatchGetItem': [table('members'), table('files')],
      'dynamodb:GetItem': [table('files')],
      'dynamodb:UpdateItem': [table('files'), table('uploads')],
      'dynamodb:PutItem': [table('uploads')],
      'dynamodb:Query': [table('uploads')],
      ...readWriteObjects,
      'lambda:InvokeFunction': [assembler],
    },
    getFile: {
      'ssm:GetParameter': [secret],
      'dynamodb:BatchGetItem': [table('members'), table('files')],
      'dynamodb:Query': [table('uploads')],
    },
    downloadFile: {
      'ssm:GetParameter': [secret],
      'dynamodb:BatchGetItem': [table('members'), table('files')],
      'dynamodb:GetItem': [table('files')],
      's3:GetObject': [objects('files/*/data')],
    },
    getThumbnail: {
      'ssm:GetParameter': [secret],
      'dynamodb:BatchGetItem': [table('members'), table('files')],
      'dynamodb:GetItem': [table('files')],
      's3:GetObject': [objects('files/*/thumbnails/*')],
    },
    deleteFile: {
      'ssm:GetParameter': [secret],
      'dynamodb:BatchGetItem': [table('members'), table('files')],
      'dynamodb:UpdateItem': [table('files')],
      'dynamodb:DeleteItem': [table('files')],
      's3:DeleteObject': all,
      's3:AbortMultipartUpload': all,
      's3:ListBucket': [bucket],
    },
    createDirectUpload: {
      'ssm:GetParameter': [secret],
      'dynamodb:GetItem': [table('members')],
      'dynamodb:BatchGetItem': [table('members'), table('files')],
      'dynamodb:PutItem': [table('files')],
      'dynamodb:UpdateItem': [table('files')],
      's3:PutObject': [objects('files/*/data')],
      's3:AbortMultipartUpload': [objects('files/*/data')],
      's3:DeleteObject': all,
      's3:ListBucket': [bucket],
    },
    // What its part URLs may do: UploadPart of data objects.
    signDirectPart: {
      'ssm:GetParameter': [secret],
      'dynamodb:BatchGetItem': [table('members'), table('files')],
      's3:PutObject': [objects('files/*/data')],
    },
    listDirectParts: {
      'ssm:GetParameter': [secret],
      'dynamodb:BatchGetItem': [table('members'), table('files')],
      's3:ListMultipartUploadParts': [objects('files/*/data')],
    },
    completeDirectUpload: {
      'ssm:GetParameter': [secret],
      'dynamodb:BatchGetItem': [table('members'), table('files')],
      'dynamodb:GetItem': [table('files')],
      'dynamodb:UpdateItem': [table('files')],
      's3:ListMultipartUploadParts': [objects('files/*/data')],
      ...readWriteObjects,
    },
    abortDirectUpload: {
      'ssm:GetParameter': [secret],
      'dynamodb:BatchGetItem': [table('members'), table('files')],
      'dynamodb:UpdateItem': [table('files')],
      'dynamodb:DeleteItem': [table('files')],
      's3:DeleteObject': all,
      's3:AbortMultipartUpload': all,
      's3:ListBucket': [bucket],
    },
    openapi: {},
    docs: {},
    health: {},
    makeThumbnails: {
      'dynamodb:GetItem': [table('files')],
      'dynamodb:UpdateItem': [table('files')],
      's3:GetObject': [objects('files/*/data')],
      's3:PutObject': [objects('files/*/thumbnails/*')],
      's3:DeleteObject': [objects('files/*/thumbnails/*')],
      's3:ListBucket': [bucket],
    },
    sweep: {
      'dynamodb:GetItem': [table('files')],
      'dynamodb:UpdateItem': [table('files')],
      'dynamodb:DeleteItem': [table('files')],
      'dynamodb:Query': [table('files'), table('uploads')],
      'dynamodb:Scan': [table('files')],
      ...readWriteObjects,
      's3:ListMultipartUploadParts': [objects('files/*/data')],
      'lambda:InvokeFunction': [assembler],
    },
    assembleUpload: {
      'dynamodb:GetItem': [table('files')],
      'dynamodb:UpdateItem': [table('files')],
      'dynamodb:Query': [table('uploads')],
      ...readWriteObjects,
    },
  };

  test.each(Object.keys(FUNCTIONS) as FunctionName[])(
    '%s may do exactly what its code does',
    (fn) => {
      const actions = allowed(fn);
      const logs = `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/serverless-files-${STAGE}-${fn}:*:*`;
      const own = Object.fromEntries(
        [...actions]
          .filter(([action]) => !action.startsWith('logs:'))
          .map(([a, r]) => [a, [...r].sort()]),
      );
      expect(own).toEqual(
        Object.fromEntries(Object.entries(expected[fn]).map(([a, r]) => [a, [...r].sort()])),
      );
      // Logs: its own log group only.
      for (const action of ['logs:CreateLogStream', 'logs:PutLogEvents']) {
        expect(actions.get(action)).toEqual([sub(logs)]);
      }
    },
  );

  test('no statement allows a wildcard action or every resource', () => {
    for (const fn of Object.keys(FUNCTIONS) as FunctionName[]) {
      for (const statement of statementsOf(fn)) {
        for (const action of statement.actions) expect(action).not.toMatch(/\*/);
        expect(statement.resources).not.toContain('*');
      }
    }
  });

  test("listing the bucket is limited to the service's prefixes", () => {
    for (const fn of Object.keys(FUNCTIONS) as FunctionName[]) {
      for (const statement of statementsOf(fn).filter((s) => s.actions.includes('s3:ListBucket'))) {
        expect(statement.condition).toBeDefined();
        const prefixes = (statement.condition as { StringLike: { 's3:prefix': string[] } })
          .StringLike['s3:prefix'];
        expect(['files/*', 'uploads/*']).toEqual(expect.arrayContaining(prefixes));
      }
    }
  });

  /** A zipped function's one bundle; the thumbnailer's as its Dockerfile builds it. */
  async function bundleOf(fn: FunctionName): Promise<string> {
    if (fn === 'makeThumbnails') {
      return readFile(await bundleThumbnailer(path.join(outDir, 'image')), 'utf8');
    }
    const zip = await JSZip.loadAsync(await readFile(path.join(outDir, `${fn}.zip`)));
    const files = Object.keys(zip.files).filter((name) => !zip.files[name]!.dir);
    expect(files.filter((name) => name.endsWith('.js'))).toHaveLength(1);
    expect(files.some((name) => name.includes('node_modules/'))).toBe(false);
    return zip.file(files.find((name) => name.endsWith('.js'))!)!.async('string');
  }

  // The role and the bundle must agree: a function allowed a service it never calls has too
  // much; one calling a service it is not allowed fails on AWS. Each zip holds one bundle.
  test.each(Object.keys(FUNCTIONS) as FunctionName[])(
    "%s's bundle has the SDK clients of exactly the services its role allows",
    async (fn) => {
      const bundle = await bundleOf(fn);
      // Service identifiers the SDK clients put in every request they sign.
      const clients = {
        dynamodb: bundle.includes('DynamoDB_20120810'),
        s3: bundle.includes('AmazonS3'),
        lambda: bundle.includes('AWSGirApiService'),
        ssm: bundle.includes('AmazonSSM'),
      };
      const services = new Set([...allowed(fn).keys()].map((action) => action.split(':')[0]));
      services.delete('logs');
      expect(clients).toEqual({
        dynamodb: services.has('dynamodb'),
        s3: services.has('s3'),
        lambda: services.has('lambda'),
        ssm: services.has('ssm'),
      });
    },
  );
});

describe('storage', () => {
  test('bucket: private, encrypted, TLS only, with lifecycle rules and CORS for browser downloads', () => {
    const bucket = props('FilesBucket');
    expect(resource('FilesBucket')['Condition']).toBe('CreateBucket');
    expect(bucket['BucketName']).toBe(`serverless-files-${STAGE}-data`);
    expect(bucket['PublicAccessBlockConfiguration']).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket['BucketEncryption']).toEqual({
      ServerSideEncryptionConfiguration: [
        { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
      ],
    });
    expect(bucket['LifecycleConfiguration'].Rules).toEqual([
      { Id: 'expire-abandoned-chunks', Status: 'Enabled', Prefix: 'uploads/', ExpirationInDays: 1 },
      {
        Id: 'abort-incomplete-multipart-uploads',
        Status: 'Enabled',
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
    ]);
    const [cors] = bucket['CorsConfiguration'].CorsRules;
    expect(cors.AllowedMethods).toEqual(['GET', 'HEAD', 'PUT']);
    expect(cors.ExposedHeaders).toContain('ETag');
    expect(cors.AllowedOrigins).toEqual(['*']);
    expect(cors.ExposedHeaders).toContain('Content-Disposition');

    const [tlsOnly] = props('FilesBucketPolicy')['PolicyDocument'].Statement;
    expect(tlsOnly).toMatchObject({
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:*',
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
  });

  test('the thumbnailer is notified of new data objects only, once the bucket exists', () => {
    const notification = resource('MakeThumbnailsCustomS31');
    expect(notification['Properties']).toMatchObject({
      FunctionName: `serverless-files-${STAGE}-makeThumbnails`,
      BucketName: `serverless-files-${STAGE}-data`,
      BucketConfigs: [
        { Event: 's3:ObjectCreated:*', Rules: [{ Prefix: 'files/' }, { Suffix: '/data' }] },
      ],
    });
    expect(notification['DependsOn']).toContain('BucketReady');
    expect(resource('BucketReady')['Metadata']).toEqual({
      Bucket: {
        'Fn::If': ['CreateBucket', { Ref: 'FilesBucket' }, `serverless-files-${STAGE}-data`],
      },
    });
    // Lambda retries a failed thumbnailing twice; the third failure is recorded.
    expect(props('MakeThumbnailsLambdaEvConf')['MaximumRetryAttempts']).toBe(2);
  });

  test.each([
    ['FilesTable', 'files', 'id'],
    ['MembersTable', 'members', 'principal'],
  ])(
    '%s: on demand, keyed by company, point-in-time recovery on, kept on stack removal',
    (name, suffix, sortKey) => {
      const table = props(name);
      expect(resource(name)['Condition']).toBe('CreateTables');
      expect(resource(name)['DeletionPolicy']).toBe('Retain');
      expect(table['TableName']).toBe(`serverless-files-${STAGE}-${suffix}`);
      expect(table['BillingMode']).toBe('PAY_PER_REQUEST');
      expect(table['KeySchema']).toEqual([
        { AttributeName: 'company_id', KeyType: 'HASH' },
        { AttributeName: sortKey, KeyType: 'RANGE' },
      ]);
      expect(table['PointInTimeRecoverySpecification']).toEqual({
        PointInTimeRecoveryEnabled: true,
      });
    },
  );

  test('UploadsTable: on demand, an item per chunk or part of an upload, removed by TTL', () => {
    const table = props('UploadsTable');
    expect(resource('UploadsTable')['Condition']).toBe('CreateTables');
    expect(table['TableName']).toBe(`serverless-files-${STAGE}-uploads`);
    expect(table['BillingMode']).toBe('PAY_PER_REQUEST');
    expect(table['KeySchema']).toEqual([
      { AttributeName: 'upload', KeyType: 'HASH' },
      { AttributeName: 'n', KeyType: 'RANGE' },
    ]);
    expect(table['TimeToLiveSpecification']).toEqual({
      AttributeName: 'expires_at',
      Enabled: true,
    });
  });

  test('the stack creates its bucket and tables unless told to use existing ones', () => {
    expect(template.Conditions).toEqual({
      CreateBucket: { 'Fn::Equals': ['true', 'true'] },
      CreateTables: { 'Fn::Equals': ['true', 'true'] },
    });
  });

  test('pointed at an existing bucket and tables, it creates neither and grants on those', async () => {
    const existingDir = await mkdtemp(path.join(tmpdir(), 'serverless-files-package-'));
    try {
      const existing = await packageService(STAGE, existingDir, {
        thumbnailerImage: IMAGE,
        bucketName: 'acme-files',
        createBucket: 'false',
        filesTableName: 'acme-files-records',
        membersTableName: 'acme-members',
        uploadsTableName: 'acme-uploads',
        createTables: 'false',
      });
      expect(existing.Conditions).toEqual({
        CreateBucket: { 'Fn::Equals': ['false', 'true'] },
        CreateTables: { 'Fn::Equals': ['false', 'true'] },
      });
      const text = JSON.stringify(existing);
      expect(text).not.toContain(`serverless-files-${STAGE}-data`);
      expect(text).not.toContain(`serverless-files-${STAGE}-files`);
      expect(text).toContain(':s3:::acme-files/files/*');
      expect(text).toContain(':table/acme-files-records');
      expect(text).toContain(':table/acme-members');
      expect(text).toContain(':table/acme-uploads');
      expect(existing.Resources['MakeThumbnailsCustomS31']!.Properties['BucketName']).toBe(
        'acme-files',
      );
      expect(existing.Outputs['BucketName']!.Value).toBe('acme-files');
    } finally {
      await rm(existingDir, { recursive: true, force: true });
    }
  }, 180_000);
});

test('outputs: the API URL, the bucket, the tables and the secret parameter', () => {
  expect(Object.keys(template.Outputs)).toEqual(
    expect.arrayContaining([
      'HttpApiUrl',
      'BucketName',
      'FilesTableName',
      'MembersTableName',
      'UploadsTableName',
      'JwtSecretParameter',
    ]),
  );
  expect(template.Outputs['BucketName']!.Value).toBe(`serverless-files-${STAGE}-data`);
  expect(template.Outputs['FilesTableName']!.Value).toBe(`serverless-files-${STAGE}-files`);
});

test('the HTTP API has the six routes of the Files service, the five of direct uploads, its document and a health check', () => {
  const routes = Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::ApiGatewayV2::Route')
    .map((r) => r.Properties['RouteKey'])
    .sort();
  const prefix = '/internal/services/files/v1/companies/{company_id}/files';
  const multipart = '/internal/services/files/v1/companies/{company_id}/s3/multipart';
  expect(routes).toEqual(
    [
      `DELETE ${prefix}/{file_id}`,
      `GET ${prefix}/{file_id}`,
      `GET ${prefix}/{file_id}/download`,
      `GET ${prefix}/{file_id}/thumbnails/{index}`,
      `POST ${prefix}`,
      `POST ${prefix}/{file_id}`,
      `POST ${multipart}`,
      `GET ${multipart}/{upload_id}/{part_number}`,
      `GET ${multipart}/{upload_id}`,
      `POST ${multipart}/{upload_id}/complete`,
      `DELETE ${multipart}/{upload_id}`,
      'GET /internal/services/files/v1/openapi.json',
      'GET /internal/services/files/v1/docs',
      'GET /internal/services/files/v1/docs/{asset}',
      'GET /internal/services/files/v1/health',
    ].sort(),
  );
});

test("browsers may call the API from Twake's origin with a bearer token", () => {
  expect(props('HttpApi')['CorsConfiguration']).toEqual({
    AllowOrigins: ['*'],
    AllowHeaders: ['Authorization', 'Content-Type'],
    AllowMethods: ['GET', 'POST', 'DELETE'],
    ExposeHeaders: ['Location'],
    MaxAge: 3600,
  });
});

test('every HTTP route has a sample event in events/http with its route key', async () => {
  for (const [fn, kind] of Object.entries(FUNCTIONS)) {
    if (kind !== 'http') continue;
    const file = `${fn.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}.json`;
    const sample = JSON.parse(
      await readFile(path.resolve(__dirname, '../../events/http', file), 'utf8'),
    ) as { version: string; routeKey: string };
    const integration = `HttpApiIntegration${logicalId(fn)}`;
    // One of the function's routes (the docs function has two: the page and its files).
    const routeKeys = Object.values(template.Resources)
      .filter(
        (r) =>
          r.Type === 'AWS::ApiGatewayV2::Route' &&
          JSON.stringify(r.Properties['Target']).includes(integration),
      )
      .map((r) => r.Properties['RouteKey']);
    expect(sample.version).toBe('2.0');
    expect(routeKeys).toContain(sample.routeKey);
  }
});
