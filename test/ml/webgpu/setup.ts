// Whether the webgpu tests can run here. Where no adapter exists they are skipped with the reason,
// except where a GPU path must be tested: CI (CI=true, which uses the npm SwiftShader driver that
// vitest.config.ts hands the webgpu project) or ALEXNET_REQUIRE_WEBGPU=1, where a missing adapter fails.
import { initBackend } from '../../../ml/backend';

/** Makes 'webgpu' current (a software adapter allowed); returns null, or why it cannot run here. */
export async function webgpuSkipReason(): Promise<string | null> {
  try {
    await initBackend('webgpu');
    return null;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    if (process.env.CI === 'true' || process.env.ALEXNET_REQUIRE_WEBGPU === '1')
      throw new Error(`the webgpu tests are required here (CI or ALEXNET_REQUIRE_WEBGPU=1), but: ${why}`);
    return why;
  }
}
