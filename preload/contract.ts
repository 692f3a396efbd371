// The contract between the window (renderer) and the app (main): every call the page may make, its
// request and response, every event the app pushes, and the errors that can come back. Main
// registers one handler per call (main/app/handlers), preload exposes exactly this (preload/index.ts),
// browser mode serves the same over HTTP (main/server/server.ts), and the renderer's client is typed by it.
//
// Rules: types, `as const` names and the one error class both sides throw (AppError); no Electron,
// no Node, no db/ml import (the renderer imports this file); every payload is plain JSON (numbers, strings, booleans, null, arrays, objects), so the
// same values cross IPC's structured clone and HTTP's JSON unchanged.
//
//   call:  api.invoke('photos:list', { datasetId: 1, sort: 'confidence' }) -> Reply<PhotoPage>
//   event: api.on('run:progress', (p) => ...) -> unsubscribe()
//
// A Reply is { ok: true, value } or { ok: false, error: { code, message } }: errors cross as data,
// never as thrown exceptions (Electron's invoke() would flatten them into one string).
//
// Transports:
//   Electron  window.api.invoke / window.api.on (contextBridge, preload/index.ts)
//   browser   POST /api/<channel> with the JSON request as body -> the Reply as JSON (status 200, or
//             400/401/404/409/500 with an error Reply); GET /api/events is a server-sent event
//             stream, one `event: <name>` + `data: <json>` per pushed event. Authentication: header
//             `Authorization: Bearer <token>` or the cookie set when the page is opened with ?token=.
//   images    never bytes over IPC: <img src> from app:info's `imageUrl` template, e.g.
//             app-img://photo/17?size=thumb (Electron) or /img/17?size=thumb (browser mode).

// -------------------------------------------------------------------------------------------------
// Errors

/** Every error code a call can answer with; the renderer maps each to words (see ERROR_TEXT). */
export type ErrorCode =
  | 'BAD_INPUT' // the request is malformed: a missing field, a number out of range, a relative path
  | 'NOT_FOUND' // the dataset, class, photo or run named does not exist (any more)
  | 'CONFLICT' // a name already taken, a class of another dataset, a run not in the right state
  | 'BUSY' // one training run at a time: another is running
  | 'CANCELLED' // the user stopped the operation
  | 'FOLDER_NOT_FOUND' // a folder or file that does not exist, or a file where a folder was expected
  | 'BAD_IMAGE' // a photo that cannot be decoded
  | 'TOO_FEW_IMAGES' // a class with too few labeled photos to train or validate
  | 'NO_WEIGHTS' // ImageNet weights asked for but not downloaded/imported yet
  | 'BAD_WEIGHTS' // a weights file that is not the BVLC AlexNet, or whose checksum is wrong
  | 'OFFLINE' // the weights' host cannot be reached
  | 'DOWNLOAD_FAILED' // the host answered with an error or the transfer broke off
  | 'BAD_MODEL' // a run's model folder is missing or damaged
  | 'OUT_OF_MEMORY' // the backend cannot hold the model and a batch of this size
  | 'BACKEND_UNAVAILABLE' // the forced compute backend could not be loaded
  | 'GPU_FAILED' // the GPU reported an error or stopped mid-work: nothing computed after it was kept
  | 'LIBRARY_ERROR' // the library file cannot be opened, is from a newer app, or is not a library
  | 'DISK_FULL' // a write failed because the disk is full: nothing committed is lost
  | 'UNSUPPORTED' // not available in this mode (e.g. a native folder dialog in browser mode)
  | 'FORBIDDEN' // a call from a page that is not ours
  | 'INTERNAL'; // a bug: the details are in the log, not in the message

export type AppErrorPayload = { code: ErrorCode; message: string };

export type Reply<T> = { ok: true; value: T } | { ok: false; error: AppErrorPayload };

/** An error with a contract code, as a thrown value: main's handlers throw it (dispatch answers
 *  { code, message }), the renderer's client throws it for an { ok: false } reply. One class for both:
 *  what crosses between them is the payload, never the object. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
  /** What the user reads: the message, or the code's words when the message is empty. */
  get text(): string {
    return this.message || ERROR_TEXT[this.code];
  }
}

/** What the user reads for each code when the message itself is too technical to show alone. */
export const ERROR_TEXT = {
  BAD_INPUT: 'The request was not valid.',
  NOT_FOUND: 'It does not exist any more.',
  CONFLICT: 'That conflicts with something that already exists.',
  BUSY: 'A training run is already in progress.',
  CANCELLED: 'Cancelled.',
  FOLDER_NOT_FOUND: 'The folder or file was not found.',
  BAD_IMAGE: 'The image cannot be read.',
  TOO_FEW_IMAGES: 'A class has too few labeled photos.',
  NO_WEIGHTS: 'The ImageNet weights are not installed yet.',
  BAD_WEIGHTS: 'The weights file is not the expected AlexNet.',
  OFFLINE: 'No network connection to the weights server.',
  DOWNLOAD_FAILED: 'The download failed.',
  BAD_MODEL: 'The trained model files are missing or damaged.',
  OUT_OF_MEMORY: 'Not enough memory for this batch size.',
  BACKEND_UNAVAILABLE: 'The compute backend could not be loaded.',
  GPU_FAILED: 'The GPU stopped with an error; nothing it computed after that was kept.',
  LIBRARY_ERROR: 'The library file cannot be used.',
  DISK_FULL: 'The disk is full: free some space and try again.',
  UNSUPPORTED: 'Not available here.',
  FORBIDDEN: 'Not allowed.',
  INTERNAL: 'Something went wrong inside the app.',
} as const satisfies Record<ErrorCode, string>;

// -------------------------------------------------------------------------------------------------
// Limits that main enforces (the renderer may use them to validate early)

export const LIMITS = {
  nameLength: 200, // dataset and class names, in characters
  pathLength: 4096, // absolute paths
  pageSize: 5000, // photos per photos:list page
  idsPerCall: 100_000, // photo ids in one labels:set
  filesPerCall: 10_000, // files in one classify:files / photos:add
  epochs: 500, // epochs of one stage
  batchSize: 512,
} as const;

// -------------------------------------------------------------------------------------------------
// Shared shapes

export type NoArgs = Record<string, never>; // calls without arguments take {}
export type Ok = { done: true };

export type PhotoStatus = 'ok' | 'unreadable' | 'missing';
export type LabelSource = 'user' | 'folder' | 'prediction';
export type RunStatus = 'running' | 'finished' | 'failed' | 'cancelled' | 'interrupted';
export type BackendName = 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';
export type Subset = 'train' | 'val' | 'test';
export type Tta = 'center' | '10crop';

export type DatasetInfo = {
  id: number;
  name: string;
  root: string | null; // the folder last imported into it
  createdAt: number; // ms since the epoch
  photoCount: number;
  labeledCount: number;
  classCount: number;
};

export type ClassInfo = {
  id: number;
  datasetId: number;
  name: string;
  colour: string; // '#rrggbb'
  hotkey: string | null; // '1'..'9'
  position: number; // display order
  photoCount: number; // photos labeled with it (what a delete or merge touches)
};

/** The sidebar's counts of one dataset. */
export type ClassCounts = {
  total: number;
  labeled: number;
  unlabeled: number;
  byStatus: Record<PhotoStatus, number>;
  byClass: { classId: number; name: string; colour: string; count: number }[];
};

export type PhotoSort = 'name' | 'date' | 'label' | 'confidence' | 'imported';

/** A page of the grid: sorted and filtered in the library, with label and top-1 prediction. */
export type PhotoQuery = {
  datasetId: number;
  sort?: PhotoSort; // default 'name'
  order?: 'asc' | 'desc'; // default 'asc' (confidence asc = least confident first)
  classIds?: number[]; // labeled as one of these
  unlabeled?: boolean; // no label yet (with classIds: either)
  predictedClassId?: number; // top-1 prediction is this class
  minP?: number; // top-1 probability >= this (0 = "has a prediction")
  maxP?: number; // top-1 probability < this
  disagree?: boolean; // labeled, predicted, and the two differ
  status?: PhotoStatus[]; // default every status
  subset?: { runId: number; subset: Subset }; // only the photos of that run's split subset
  runId?: number | null; // whose predictions; default the dataset's latest run that has some
  limit?: number; // page size, 1..LIMITS.pageSize, default 500
  offset?: number; // offset paging (every sort)
  after?: string; // keyset paging: the previous page's `next` (sorts name, date, imported)
  withTotal?: boolean; // count every match (default true)
};

export type PhotoItem = {
  id: number;
  name: string;
  path: string;
  width: number | null;
  height: number | null;
  takenAt: string | null; // 'YYYY-MM-DDTHH:MM:SS' local time (EXIF or file date)
  status: PhotoStatus;
  classId: number | null;
  className: string | null;
  labelSource: LabelSource | null;
  predictedClassId: number | null;
  predictedLabel: string | null;
  p: number | null; // top-1 probability
};

export type PhotoPage = { items: PhotoItem[]; total: number | null; next: string | null; runId: number | null };

export type TopK = { label: string; p: number; classId: number | null }[];

export type PhotoDetail = PhotoItem & {
  datasetId: number;
  size: number; // bytes
  statusReason: string | null;
  dateSource: 'exif' | 'mtime' | null;
  importedAt: number;
  predictions: { runId: number; topk: TopK }[]; // newest run first
  history: { actionId: number; description: string; state: string; createdAt: number; oldClassId: number | null; newClassId: number | null }[];
};

export type LabelActionInfo = {
  id: number;
  kind: 'set' | 'clear' | 'accept' | 'import';
  description: string; // "Label 3 photos as bees"
  state: 'done' | 'undone' | 'discarded';
  changed: number; // photos whose label it changed
};

/** What every labeling call answers: the action (null when nothing changed) and the new state. */
export type LabelResult = {
  action: LabelActionInfo | null;
  counts: ClassCounts;
  undo: string | null; // what ctrl+Z would undo now (its description), or null
  redo: string | null;
};

export type ImportSummaryInfo = {
  datasetId: number;
  dataset: string;
  root: string;
  found: number;
  added: number;
  unchanged: number;
  updated: number;
  reappeared: number;
  duplicates: number;
  unreadable: { path: string; reason: string }[]; // first 100
  skipped: number;
  classesCreated: string[];
  labeled: number;
  missing: number;
  cancelled: boolean;
  durationMs: number;
};

export type VerifyInfo = { checked: number; missing: number; reappeared: number; stillMissing: number };

/** The settings of a training run; every field has a good default (the one-button run). */
export type RunSettings = {
  recipe?: 'finetune' | 'scratch'; // 'finetune' (default): ImageNet weights, frozen features then fine-tune
  architecture?: 'alexnet' | 'tiny'; // 'tiny': a toy-sized AlexNet trained from scratch, for tests and demos
  headEpochs?: number; // finetune: epochs training only the new head (default 3)
  fineTuneEpochs?: number; // finetune: epochs after unfreezing (default 10)
  fineTune?: 'none' | 'fc' | 'all'; // finetune: what unfreezes after the head (default 'fc')
  epochs?: number; // scratch: epochs (default 30)
  batchSize?: number; // default 32
  lr?: number; // base learning rate (default 0.01)
  augment?: boolean; // random crops, flips (and colour noise from scratch); default true
  valFraction?: number; // share of each class held out for validation (default 0.2)
  tta?: Tta; // how the finished model predicts the dataset: 'center' (default) or '10crop'
  seed?: number; // default 0: same seed, same run
  // The paper's architecture switches (sections 3.1-3.4), for runs from scratch: the ImageNet
  // weights were trained with the paper's choices, so a fine-tune keeps them.
  activation?: 'relu' | 'tanh'; // default 'relu' (3.1)
  groups?: 1 | 2; // default 2: conv2/4/5 split in two as on the paper's two GPUs (3.2)
  lrn?: boolean; // default true: local response normalisation after conv1-2 (3.3)
  overlappingPool?: boolean; // default true: 3x3 windows, stride 2; false: 2x2, stride 2 (3.4)
  backend?: 'auto' | BackendName; // the compute backend: 'auto' (default) the best that loads (ALEXNET_BACKEND applies), else that one or a failed run saying why
};

export type RunInfo = {
  id: number;
  datasetId: number | null;
  datasetName: string | null;
  name: string | null;
  status: RunStatus;
  startedAt: number;
  endedAt: number | null;
  durationMs: number | null;
  error: string | null; // why it failed, in words
  backend: string | null;
  weightsSource: string | null;
  classes: string[];
  epochs: number; // finished epochs
  steps: number;
  bestValAcc: number | null;
  trainCount: number | null; // photos trained on
  valCount: number | null;
  settings: Record<string, string | number | boolean | null>; // the settings as run, flat, for comparison
};

export type RunDetail = RunInfo & {
  models: { id: number; kind: 'checkpoint' | 'final' | 'export'; format: string; path: string; epoch: number | null }[];
  predictions: number; // photos predicted by this run's model
};

/** A metric's points: parallel arrays (idx = step or epoch number), ready for uPlot. */
export type Series = { idx: number[]; value: (number | null)[] };
export type RunMetrics = { runId: number; step: Record<string, Series>; epoch: Record<string, Series> };

export type Evaluation = {
  runId: number;
  subset: 'val' | 'all'; // the run's validation photos, or every labeled photo of the dataset
  labels: 'at-end' | 'today'; // scored against the labels as they were when the run ended (what it
  //                             measured, kept with the run), or against today's labels
  n: number; // photos evaluated (labeled and predicted)
  accuracy: number | null;
  classes: { id: number; name: string }[]; // rows and columns of the matrix, in this order
  matrix: number[][]; // matrix[label][predicted] = count; a cell's photos: photos:list with
  //                     { runId, classIds: [label], predictedClassId: predicted, subset }
  perClass: { classId: number; precision: number; recall: number; support: number }[];
  mostWrong: PhotoItem[]; // wrong predictions, most confident first (at most `worst`)
};

/** models:export's formats, each written with labels.json and preprocessing.json beside the model:
 *  'onnx' model.onnx (NCHW), 'tfjs' a TF.js graph model (tf.loadGraphModel, NHWC), 'checkpoint' the
 *  app's own model folder (loads in the app and the CLI). */
export const EXPORT_FORMATS = ['onnx', 'tfjs', 'checkpoint'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export type ClassifyResultInfo =
  | { file: string; predictions: TopK; thumb?: string } // thumb: a small JPEG data: URL (classify:files with thumbs)
  | { file: string; error: AppErrorPayload };

export type WeightsStatus = {
  state: 'missing' | 'ready' | 'downloading';
  file: string | null; // where the ImageNet weights are (or will be)
  bytes: number | null;
  sha256: string | null;
  source: string | null; // where they came from (URL or imported file)
  verified: 'imagenet' | 'structure' | null; // 'imagenet': the published file's SHA-256; 'structure': the network's shape only
};

export type GpuAdapterInfo = { vendor: string; architecture: string; device: string; description: string; software: boolean };
export type BackendInfo = {
  name: BackendName;
  threads: number;
  versions: Record<string, string>;
  tried: { name: BackendName; error: string }[];
  adapter?: GpuAdapterInfo; // webgpu: the device it computes on
};

export type AppInfo = {
  name: string;
  version: string;
  mode: 'electron' | 'browser';
  platform: string; // process.platform
  dataDir: string;
  dbFile: string;
  backend: BackendInfo | null; // the compute backend once a worker has loaded it (then also pushed as app:backend)
  imageUrl: { thumb: string; full: string }; // templates with '{id}', e.g. 'app-img://photo/{id}?size=thumb'
  runningRunId: number | null;
  backendError?: string; // why the last backend probe failed (the app setting's backend did not load); absent when it loaded
};

// The app's preferences, kept in <dataDir>/settings.json (a machine's choice, not the library's).
export type AppSettings = {
  // the backend every engine job loads: 'auto' the best that loads (ALEXNET_BACKEND applies); a run's
  // own settings.backend, when not 'auto', wins for that run
  backend: 'auto' | BackendName;
};

export type MenuCommand = 'import-folder' | 'open-library' | 'undo' | 'redo' | 'select-all' | 'show-shortcuts' | 'about' | 'zoom-in' | 'zoom-out';

// -------------------------------------------------------------------------------------------------
// Calls: channel -> { req, res }

export type Calls = {
  'app:info': { req: NoArgs; res: AppInfo };
  'dialog:pick': { req: { kind: 'folder' | 'files' | 'save-folder'; title?: string }; res: { paths: string[] } }; // UNSUPPORTED in browser mode; [] when dismissed
  'settings:get': { req: NoArgs; res: AppSettings };
  // saves the given keys; a new backend is probed before the answer (app:backend, or app:info's backendError)
  'settings:set': { req: Partial<AppSettings>; res: AppSettings };

  'datasets:list': { req: NoArgs; res: DatasetInfo[] };
  'datasets:create': { req: { name: string }; res: DatasetInfo };
  'datasets:rename': { req: { datasetId: number; name: string }; res: DatasetInfo };
  'datasets:delete': { req: { datasetId: number }; res: Ok }; // the photo files are not touched
  'datasets:counts': { req: { datasetId: number }; res: ClassCounts };

  'import:start': { req: { folder: string; datasetId?: number; datasetName?: string; classesFromFolders?: boolean }; res: { importId: string; datasetId: number } };
  'import:cancel': { req: { importId: string }; res: { cancelled: boolean } };

  'photos:list': { req: PhotoQuery; res: PhotoPage };
  'photos:get': { req: { photoId: number }; res: PhotoDetail };
  'photos:verify': { req: { datasetId: number }; res: VerifyInfo };
  'photos:add': { req: { datasetId: number; files: string[]; classId?: number | null }; res: { photoIds: number[]; skipped: { file: string; reason: string }[] } };

  'classes:list': { req: { datasetId: number }; res: ClassInfo[] };
  'classes:create': { req: { datasetId: number; name: string; colour?: string; hotkey?: string | null }; res: ClassInfo };
  'classes:update': { req: { classId: number; name?: string; colour?: string; hotkey?: string | null }; res: ClassInfo };
  'classes:reorder': { req: { datasetId: number; classIds: number[] }; res: ClassInfo[] };
  'classes:merge': { req: { fromId: number; intoId: number }; res: { moved: number } };
  'classes:delete': { req: { classId: number }; res: { unlabeled: number } };

  'labels:set': { req: { datasetId: number; photoIds: number[]; classId: number | null }; res: LabelResult };
  'labels:accept': { req: { datasetId: number; runId: number; photoIds: number[] }; res: LabelResult };
  'labels:undo': { req: { datasetId: number }; res: LabelResult };
  'labels:redo': { req: { datasetId: number }; res: LabelResult };
  'labels:peek': { req: { datasetId: number }; res: { undo: string | null; redo: string | null } };

  'suggestions:list': { req: { datasetId: number; runId?: number; limit?: number; offset?: number }; res: PhotoPage }; // unlabeled with a prediction, least confident first

  'runs:start': { req: { datasetId: number; name?: string; settings?: RunSettings }; res: RunInfo };
  'runs:cancel': { req: { runId: number }; res: { cancelled: boolean } };
  // continues an interrupted, cancelled or failed run from its last checkpoint, same settings and split
  'runs:resume': { req: { runId: number }; res: RunInfo };
  'runs:list': { req: { datasetId?: number; limit?: number }; res: RunInfo[] };
  'runs:get': { req: { runId: number }; res: RunDetail };
  'runs:metrics': { req: { runId: number }; res: RunMetrics };
  'runs:evaluation': { req: { runId: number; subset?: 'val' | 'all'; worst?: number; labels?: 'at-end' | 'today' }; res: Evaluation }; // labels: default 'at-end'
  'runs:delete': { req: { runId: number }; res: Ok };
  // the run's model predicts its dataset's photos it has no prediction for (new since it trained), in
  // the background: predict:progress, then library:changed 'photos'; queued 0 = nothing to do
  'runs:predict': { req: { runId: number }; res: { queued: number } };
  'predict:cancel': { req: { runId: number }; res: { cancelled: boolean } }; // stops runs:predict (its predict:progress ends with CANCELLED; what it wrote stays)

  'models:export': { req: { runId: number; format: ExportFormat; folder: string }; res: { folder: string; files: string[]; bytes: number } }; // writes <folder>/alexnet-run-<id>-<format>/
  'models:cancel': { req: { runId: number; format: ExportFormat }; res: { cancelled: boolean } }; // stops that export (it ends with CANCELLED, its folder removed)

  'classify:files': { req: { runId: number; files: string[]; topK?: number; tta?: Tta; thumbs?: boolean }; res: { results: ClassifyResultInfo[] } };
  'classify:cancel': { req: { runId: number }; res: { cancelled: boolean } }; // stops the classify:files calls with this run (each ends with CANCELLED)
  // a camera frame (base64 JPEG/PNG, at most 8 MB) classified; keep: stored in the data folder's
  // camera/ and its path answered (for photos:add), else removed after
  'camera:frame': { req: { runId: number; image: string; topK?: number; keep?: boolean }; res: { file: string | null; predictions: TopK } };

  // Train on a cluster: a PyTorch DDP job folder (torchrun, SLURM, Ray Train) written into `folder`
  // (settings as runs:start's: finetune = the transfer recipe from ImageNet or run `fromRunId`,
  // scratch = every layer); its result/ folder imported back as a run (main/app/cluster.ts).
  'cluster:export': { req: { datasetId: number; folder: string; settings?: RunSettings; fromRunId?: number; shardSize?: number }; res: ClusterJobInfo };
  'cluster:import': { req: { datasetId: number; folder: string; name?: string }; res: { run: RunInfo; predicted: number } };
  // one export or import at a time, with cluster:progress; cancel ends it with CANCELLED and leaves
  // no half job folder and no half run
  'cluster:cancel': { req: NoArgs; res: { cancelled: boolean } };

  'weights:status': { req: NoArgs; res: WeightsStatus };
  'weights:download': { req: NoArgs; res: WeightsStatus }; // progress as weights:progress, end as weights:done
  'weights:import': { req: { file: string }; res: WeightsStatus };
  'weights:cancel': { req: NoArgs; res: WeightsStatus }; // stops an import or a download in progress (it ends with CANCELLED)
};

// export: the colour-noise PCA's photos, then the shards; import: the model read, then our engine predicting
export type ClusterPhase = 'pca' | 'shards' | 'model' | 'predicting';
export type ClusterJobInfo = { folder: string; files: number; bytes: number; train: number; val: number; shards: { train: number; val: number } };

export type Channel = keyof Calls;
export type Req<C extends Channel> = Calls[C]['req'];
export type Res<C extends Channel> = Calls[C]['res'];

/** Every channel, for registration loops and the HTTP router. */
export const CHANNELS = [
  'app:info',
  'dialog:pick',
  'settings:get',
  'settings:set',
  'datasets:list',
  'datasets:create',
  'datasets:rename',
  'datasets:delete',
  'datasets:counts',
  'import:start',
  'import:cancel',
  'photos:list',
  'photos:get',
  'photos:verify',
  'photos:add',
  'classes:list',
  'classes:create',
  'classes:update',
  'classes:reorder',
  'classes:merge',
  'classes:delete',
  'labels:set',
  'labels:accept',
  'labels:undo',
  'labels:redo',
  'labels:peek',
  'suggestions:list',
  'runs:start',
  'runs:cancel',
  'runs:resume',
  'runs:list',
  'runs:get',
  'runs:metrics',
  'runs:evaluation',
  'runs:delete',
  'runs:predict',
  'predict:cancel',
  'models:export',
  'models:cancel',
  'classify:files',
  'classify:cancel',
  'camera:frame',
  'cluster:export',
  'cluster:import',
  'cluster:cancel',
  'weights:status',
  'weights:download',
  'weights:import',
  'weights:cancel',
] as const satisfies readonly Channel[];

// -------------------------------------------------------------------------------------------------
// Pushed events: name -> payload

export type RunProgress = {
  runId: number;
  stage: 'head' | 'finetune' | 'main';
  epoch: number;
  epochs: number; // the last epoch of the run
  step: number;
  stepsPerEpoch: number;
  loss: number;
  acc: number;
  lr: number;
  imagesPerSec: number;
  etaSeconds: number;
};

export type RunEpoch = {
  runId: number;
  stage: 'head' | 'finetune' | 'main';
  epoch: number;
  trainLoss: number;
  trainAcc: number;
  valLoss: number;
  valAcc: number;
  valTop5: number;
  lr: number;
  seconds: number;
  best: boolean; // the best epoch so far (its checkpoint is kept)
};

export type RunPhase = 'starting' | 'caching' | 'training' | 'predicting' | 'done';

export type Events = {
  'run:status': { runId: number; status: RunStatus; phase: RunPhase; error: AppErrorPayload | null; backend: string | null; message: string | null };
  'run:progress': RunProgress; // a few per second at most (throttled); the latest step wins
  'run:epoch': RunEpoch; // every epoch, never dropped
  'import:progress': { importId: string; datasetId: number; phase: 'scan' | 'import' | 'verify'; done: number; total: number; added: number };
  'import:done': { importId: string; datasetId: number; summary: ImportSummaryInfo | null; error: AppErrorPayload | null };
  'weights:progress': { received: number; total: number | null };
  'weights:done': { status: WeightsStatus; error: AppErrorPayload | null };
  'predict:progress': { runId: number; datasetId: number; done: number; total: number; error: AppErrorPayload | null }; // runs:predict at work
  'cluster:progress': { job: 'export' | 'import'; datasetId: number; phase: ClusterPhase; done: number; total: number; etaSeconds: number | null }; // a few per second at most
  'library:changed': { datasetId: number | null; what: 'datasets' | 'photos' | 'classes' | 'labels' | 'runs' };
  'menu:command': { command: MenuCommand; folder?: string }; // the app menu asks the page to act
  'app:backend': BackendInfo; // the compute backend, once a worker has loaded it (probed at start-up)
};

export type EventName = keyof Events;

export const EVENTS = [
  'run:status',
  'run:progress',
  'run:epoch',
  'import:progress',
  'import:done',
  'weights:progress',
  'weights:done',
  'predict:progress',
  'cluster:progress',
  'library:changed',
  'menu:command',
  'app:backend',
] as const satisfies readonly EventName[];

// The two lists above name every key of Calls and Events (a missing one fails type checking here).
type Missing<All, Listed> = Exclude<All, Listed>;
const _allChannels: [Missing<Channel, (typeof CHANNELS)[number]>] extends [never] ? true : false = true;
const _allEvents: [Missing<EventName, (typeof EVENTS)[number]>] extends [never] ? true : false = true;
void _allChannels;
void _allEvents;

// -------------------------------------------------------------------------------------------------
// What preload exposes as window.api (and what the renderer's HTTP client implements)

export type Unsubscribe = () => void;

export type AlexNetApi = {
  invoke<C extends Channel>(channel: C, req: Req<C>): Promise<Reply<Res<C>>>;
  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): Unsubscribe;
  // Electron only: the absolute path of a dropped or chosen File ('' when it has none). Browser
  // mode has no such thing; the page uploads the bytes instead (POST /upload).
  pathForFile?(file: File): string;
};

export const API_GLOBAL = 'api' as const; // window.api
export const IPC_INVOKE = 'alexnet:invoke' as const; // the one Electron channel calls travel on
export const IPC_EVENT = 'alexnet:event' as const; // the one Electron channel events travel on
export const IMAGE_SCHEME = 'app-img' as const; // app-img://photo/<id>?size=thumb|full
export const IMAGE_SIZES = ['thumb', 'full'] as const;
export type ImageSize = (typeof IMAGE_SIZES)[number];
