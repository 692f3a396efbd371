/// <reference types="svelte" />
// The live camera of Classify: frames from getUserMedia, drawn to a canvas, encoded as JPEG and sent
// to the engine (camera:frame) one at a time: the next frame goes as soon as the previous answer
// arrives, so the top-5 updates as fast as the model runs and requests never pile up. A frame can
// be added to the dataset with a label.
import type { TopK } from '../../../../preload/contract';
import type { Api } from '../api';

const FRAME_EDGE = 320; // the longer side of a frame sent (the model crops 227 or less)

export class Camera {
  stream = $state.raw<MediaStream | null>(null);
  live = $state<TopK>([]);
  frames = $state(0); // frames classified since the camera started
  error = $state<string | null>(null);
  private video: HTMLVideoElement | null = null;
  private loop = false;

  constructor(private readonly api: Api) {}

  get on(): boolean {
    return this.stream !== null;
  }

  /** Opens the camera into `video` and classifies its frames with run `runId` until stop(). */
  async start(video: HTMLVideoElement, runId: () => number | null): Promise<void> {
    this.error = null;
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (err) {
      this.error = `The camera cannot be opened: ${(err as Error).message || (err as Error).name}`;
      return;
    }
    this.video = video;
    video.srcObject = this.stream;
    await video.play();
    this.loop = true;
    this.frames = 0;
    void this.run(runId);
  }

  stop(): void {
    this.loop = false;
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    if (this.video) this.video.srcObject = null;
    this.stream = null;
    this.video = null;
  }

  /** The current frame as base64 JPEG (no data: prefix), or null before the first frame. */
  frame(): string | null {
    const v = this.video;
    if (!v || v.videoWidth === 0) return null;
    const k = FRAME_EDGE / Math.max(v.videoWidth, v.videoHeight);
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(v.videoWidth * k);
    canvas.height = Math.round(v.videoHeight * k);
    canvas.getContext('2d')!.drawImage(v, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL('image/jpeg', 0.9).split(',')[1] ?? null;
  }

  /** Adds the current frame to dataset `datasetId` labeled `classId`. */
  async addFrame(runId: number, datasetId: number, classId: number | null): Promise<void> {
    const image = this.frame();
    if (!image) throw new Error('the camera has no picture yet');
    const res = await this.api.call('camera:frame', { runId, image, keep: true });
    const added = await this.api.call('photos:add', { datasetId, files: [res.file!], classId });
    if (added.skipped.length) throw new Error(added.skipped[0].reason);
  }

  private async run(runId: () => number | null): Promise<void> {
    while (this.loop) {
      const id = runId();
      const image = this.frame();
      if (id === null || !image) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      try {
        const res = await this.api.call('camera:frame', { runId: id, image, topK: 5 });
        if (!this.loop) break;
        this.live = res.predictions;
        this.frames++;
      } catch (err) {
        this.error = (err as Error).message;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
}
