// Messages between the main process and a worker process (training, bulk inference, weights
// checks). One job per process: main sends { type: 'job' }, may send { type: 'cancel' }, and the
// worker answers with progress messages and exactly one 'result' or 'error' before it exits. A
// worker that exits without either has crashed; the host reports that as a failure. Every message
// is plain JSON (the Node fork channel and Electron's utilityProcess both carry it unchanged).
import type { NetworkSwitches } from '../../../ml/recipe';
import type { AppErrorPayload, BackendInfo, BackendName, RunPhase, Tta } from '../../../preload/contract';

export type WorkerItem = { path: string; label: number }; // an image and its class index

export type TrainJob = {
  kind: 'train';
  runId: number;
  recipe: 'finetune' | 'scratch';
  architecture: 'alexnet' | 'tiny';
  classNames: string[];
  train: WorkerItem[];
  val: WorkerItem[];
  predict: { photoId: number; path: string }[]; // photos to predict with the best model afterwards
  outDir: string; // best.ckpt and last.ckpt go here
  cacheDir: string; // the feature cache (finetune)
  baseModelDir: string | null; // the converted ImageNet model (finetune): ml/weights/imagenet.ts's imagenetModelDir
  headEpochs: number;
  fineTuneEpochs: number;
  fineTune: 'none' | 'fc' | 'all';
  epochs: number;
  batchSize: number;
  lr: number | null; // null: the engine's default for the recipe
  augment: boolean;
  tta: Tta;
  seed: number;
  network: NetworkSwitches; // the paper's switches, for runs from scratch
  backend: 'auto' | BackendName; // initBackend's preference
  resume: boolean; // continue from outDir/last.ckpt (runs:resume)
};

// thumbs: each readable file's small JPEG thumbnail comes back as a data: URL (the page cannot read
// a typed path itself, and no server route reads arbitrary files)
// backend: initBackend's preference (the app setting)
export type ClassifyJob = { kind: 'classify'; modelDir: string; files: string[]; topK: number; tta: Tta; thumbs?: boolean; backend: 'auto' | BackendName };

export type ImportWeightsJob = { kind: 'import-weights'; file: string; dataDir: string };

export type DownloadWeightsJob = { kind: 'download-weights'; dataDir: string };

// a run's best model as ONNX, a TF.js graph model or our checkpoint folder, each with labels.json
// and preprocessing.json; outDir exists (main made it) and is empty
export type ExportJob = { kind: 'export'; format: 'onnx' | 'tfjs' | 'checkpoint'; modelDir: string; outDir: string };

export type ProbeJob = { kind: 'probe'; backend: 'auto' | BackendName }; // loads that backend (the app setting) and reports it

export type Job = TrainJob | ClassifyJob | ImportWeightsJob | DownloadWeightsJob | ExportJob | ProbeJob;

export type ToWorker<J extends Job = Job> = { type: 'job'; job: J } | { type: 'cancel' };

/** A training event as ml/train emits it, with the stage it belongs to. */
export type TrainEventMsg =
  | { type: 'start'; stage: string; epochs: number; startEpoch: number; stepsPerEpoch: number; trainCount: number; valCount: number; lr: number }
  | { type: 'step'; stage: string; epoch: number; step: number; stepsPerEpoch: number; loss: number; acc: number; imagesPerSec: number; lr: number; etaSeconds: number }
  | { type: 'epoch'; stage: string; epoch: number; trainLoss: number; trainAcc: number; valLoss: number; valAcc: number; valTop5: number; lr: number; seconds: number; best: boolean }
  | { type: 'checkpoint'; stage: string; kind: 'best' | 'last'; dir: string; epoch: number }
  | { type: 'skip'; stage: string; path: string; reason: string };

export type TrainOutcome = { stopped: 'completed' | 'early-stop' | 'target' | 'cancelled'; epochs: number; bestEpoch: number; best: number | null; predicted: number };
export type ClassifyOutcome = { results: ({ file: string; predictions: { label: string; p: number }[]; thumb?: string } | { file: string; error: { code: string; message: string } })[] };
export type WeightsOutcome = { modelDir: string; verified: 'imagenet' | 'structure'; sha256: string; bytes: number; importedFrom: string; notes: string[] };
export type ExportOutcome = { dir: string; files: string[]; bytes: number };

/** What each kind of job answers with: the worker's runners return it (entry.ts), the host's
 *  'result' message carries it typed by the job it sent (WorkerHandle<J>). */
export type Outcomes = {
  train: TrainOutcome;
  classify: ClassifyOutcome;
  'import-weights': WeightsOutcome;
  'download-weights': WeightsOutcome;
  export: ExportOutcome;
  probe: BackendInfo;
};
export type Outcome<J extends Job> = Outcomes[J['kind']];

/** A worker's messages while it runs job J (J = Job: any job, the worker's own view). */
export type FromWorker<J extends Job = Job> =
  | { type: 'backend'; info: BackendInfo }
  | { type: 'phase'; phase: RunPhase; message: string | null }
  | { type: 'train'; event: TrainEventMsg }
  | { type: 'download'; bytes: number; total: number | null }
  | { type: 'predictions'; rows: { photoId: number; topk: { label: string; p: number }[] }[] }
  | { type: 'result'; value: Outcome<J> }
  | { type: 'error'; error: AppErrorPayload | { code: string; message: string }; stack: string | null };
