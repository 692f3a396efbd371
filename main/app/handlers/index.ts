// Every call of the contract, keyed by channel: createHandlers(ctx)['photos:list'] is { input, run }
// (common.ts's handler()). The type makes a missing or misspelt channel a compile error; dispatch
// validates each request with its handler's input before run sees it.
import type { Channel } from '../../../preload/contract';
import type { AppContext } from '../context';
import { appHandlers } from './app';
import { cameraHandlers } from './camera';
import { classHandlers } from './classes';
import { clusterHandlers } from './cluster';
import type { HandlerMap } from './common';
import { datasetHandlers } from './datasets';
import { importHandlers } from './import';
import { labelHandlers } from './labels';
import { photoHandlers } from './photos';
import { predictHandlers } from './predict';
import { runHandlers } from './runs';
import { settingsHandlers } from './settings';
import { weightsHandlers } from './weights';

export type Handlers = HandlerMap<Channel>;

export function createHandlers(ctx: AppContext): Handlers {
  return {
    ...appHandlers(ctx),
    ...settingsHandlers(ctx),
    ...datasetHandlers(ctx),
    ...importHandlers(ctx),
    ...photoHandlers(ctx),
    ...classHandlers(ctx),
    ...labelHandlers(ctx),
    ...runHandlers(ctx),
    ...weightsHandlers(ctx),
    ...cameraHandlers(ctx),
    ...predictHandlers(ctx),
    ...clusterHandlers(ctx),
  };
}
