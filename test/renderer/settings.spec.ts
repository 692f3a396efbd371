// The Settings manager and App.setBackend against the real handlers and events (a real data folder,
// real worker probes): the setting shown is the answer of the call made last, a change shows the
// backend it loads in the status bar's state, and one that cannot load is said in words.
import { describe, expect, it } from 'vitest';
import type { AlexNetApi, Channel, EventName, Events, Req } from '../../preload/contract';
import { Api } from '../../renderer/src/lib/api';
import { App } from '../../renderer/src/lib/app.svelte';
import { Settings } from '../../renderer/src/lib/managers/settings.svelte';
import { useHarness, type Harness } from '../helpers/app';
import { holding } from './hold';

const env = useHarness();

function apiOf(h: Harness): Api {
  const raw: AlexNetApi = {
    invoke: <C extends Channel>(c: C, r: Req<C>) => h.call(c, r),
    on: <E extends EventName>(e: E, l: (p: Events[E]) => void) => h.ctx.bus.on((name: EventName, p: unknown) => (name === e ? l(p as Events[E]) : undefined)),
  };
  return new Api(raw);
}

describe('the Settings manager', () => {
  it('loads the defaults, saves a backend, and is busy only while main loads it', async () => {
    const s = new Settings(apiOf(env.h));
    await s.load();
    expect(s.settings).toEqual({ backend: 'auto' });
    const saving = s.setBackend('cpu');
    expect(s.saving).toBe(true);
    await saving;
    expect(s.saving).toBe(false);
    expect(s.settings).toEqual({ backend: 'cpu' });
    expect(env.h.ctx.backend?.name).toBe('cpu'); // main probed it before answering
  });

  it('shows the answer of the call made last', async () => {
    const held = holding(env.h, 'settings:set');
    const s = new Settings(held.api);
    const first = s.setBackend('cpu');
    await held.answered;
    await held.overtake(first, () => s.setBackend('wasm'), () => expect(s.settings).toEqual({ backend: 'wasm' }));
    expect(await env.h.ok('settings:get', {})).toEqual({ backend: 'wasm' });
  });
});

describe('App.setBackend', () => {
  it('the status bar follows a new backend, not the last run it watched', async () => {
    const app = new App(apiOf(env.h));
    await app.start();
    expect(app.settings.settings).toEqual({ backend: 'wasm' });
    app.runs.backend = 'wasm'; // as after a run watched in this window
    await app.setBackend('cpu');
    expect(app.settings.settings).toEqual({ backend: 'cpu' });
    expect(app.info?.backend?.name).toBe('cpu');
    expect(app.runs.backend).toBeNull();
    expect(app.notify.toasts.filter((t) => t.kind === 'error')).toEqual([]);
  });

  it('a backend that cannot load is said in words, and the status bar shows none', async () => {
    const app = new App(apiOf(env.h));
    await app.start();
    await app.setBackend('tensorflow-gpu'); // needs CUDA
    expect(app.settings.settings).toEqual({ backend: 'tensorflow-gpu' }); // kept: it may load once the driver is there
    if (app.info?.backend) {
      expect(app.info.backend.name).toBe('tensorflow-gpu'); // this machine has CUDA
      return;
    }
    expect(app.info?.backendError).toMatch(/tensorflow-gpu/);
    const errors = app.notify.toasts.filter((t) => t.kind === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].title).toBe('Compute backend: The compute backend could not be loaded.');
    expect(errors[0].text).toMatch(/tensorflow-gpu/);
    // back to one that loads: app:backend clears the error
    await app.setBackend('auto');
    expect(app.info?.backendError).toBeUndefined();
    expect(app.info?.backend?.name).toBe('wasm'); // the harness's ALEXNET_BACKEND, which 'auto' follows
  });
});
