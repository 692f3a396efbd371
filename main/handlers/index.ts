// Every call of the contract, keyed by channel: createHandlers(ctx)['photos:list'](req). The type
// makes a missing or misspelt channel a compile error; each handler validates its own request.
import type { Channel } from '../../preload/contract';
import type { AppContext } from '../context';
import { appHandlers } from './app';
import { cameraHandlers } from './camera';
import { classHandlers } from './classes';
import { clusterHandlers } from './cluster';
import type { Handler } from './common';
import { datasetHandlers } from './datasets';
import { importHandlers } from './import';
import { labelHandlers } from './labels';
import { photoHandlers } from './photos';
import { predictHandlers } from './predict';
import { runHandlers } from './runs';
import { weightsHandlers } from './weights';

export type Handlers = { [C in Channel]: Handler<C> };

export function createHandlers(ctx: AppContext): Handlers {
  return {
    ...appHandlers(ctx),
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
