// The deployed workflow is the tested one: take the state machine definition CDK
// synthesized (the staged ASL asset + its DefinitionSubstitutions), resolve its tokens to
// local function names, configure the local deps from the synthesized Prepare function's
// environment, and run the process sample through it with the ASL interpreter.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { unwrap } from '../events/envelopes.js';
import { accept } from '../functions/lib/intake.js';
import { type RunOptions, runDefinition } from '../functions/local/runner.js';
import { substitute } from '../functions/workflow.js';
import { FUNCTIONS, providerFunction } from '../infra-cdk/bundling.js';
import { ROOT, sample, testDeps } from './helpers.js';
import {
  localName,
  props,
  type Resource,
  type Resources,
  readAsset,
  resolvedEnvironment,
  resolveToken,
  resourcesOfType,
  synthesize,
  testConfig,
} from './support/cdk.js';

process.chdir(ROOT); // the sample's command is relative to the repository

let resources: Resources;
let definition: Record<string, unknown>;
/** Prepare's and the trigger's environments as deployed, functions resolved to local names. */
let prepareEnv: Record<string, string>;
let triggerEnv: Record<string, string>;

function functionId(description: string): string {
  const found = resourcesOfType(resources, 'AWS::Lambda::Function').find(
    ([, fn]) => props(fn).Description === description,
  );
  assert.ok(found, description);
  return found[0];
}

before(async () => {
  // the template does not depend on bundling (only asset hashes do); cdk-stack.test.ts bundles and validates
  const synth = await synthesize(testConfig(['process']), { bundle: false, validate: false });
  resources = synth.json.Resources;
  const [[, machine] = []] = resourcesOfType(resources, 'AWS::StepFunctions::StateMachine');
  const p = props<{
    DefinitionS3Location: { Key: string };
    DefinitionSubstitutions: Record<string, unknown>;
  }>(machine as Resource);
  const values = Object.fromEntries(
    Object.entries(p.DefinitionSubstitutions).map(([name, token]) => [name, resolveToken(token, resources)]),
  );
  // what Step Functions does with DefinitionSubstitutions at deploy time
  definition = JSON.parse(substitute(readAsset(synth.outdir, p.DefinitionS3Location.Key), values));
  const prepare = resources[functionId(FUNCTIONS.prepare.description)] as Resource;
  prepareEnv = resolvedEnvironment(prepare, resources);
  triggerEnv = resolvedEnvironment(
    resources[functionId(FUNCTIONS.trigger.description)] as Resource,
    resources,
  );
});

describe('the synthesized workflow, run locally', () => {
  it('binds Prepare and Report to the deployed functions and routes runs by the deployed PROVIDER_FUNCTIONS', () => {
    const states = definition.States as Record<string, { Parameters: Record<string, string> }>;
    assert.match(states.Prepare?.Parameters.FunctionName ?? '', /:function:local-SubmitterPrepareFunction/);
    assert.match(states.Report?.Parameters.FunctionName ?? '', /:function:local-SubmitterReportFunction/);
    assert.equal(states.Watch?.Parameters['FunctionName.$'], '$.run.function');
    assert.deepEqual(JSON.parse(prepareEnv.PROVIDER_FUNCTIONS ?? '{}'), {
      process: localName(functionId(providerFunction('process').description)),
    });
  });

  it('runs the process sample to Completed through the synthesized definition', async () => {
    const names = {
      PREPARE_FUNCTION: localName(functionId(FUNCTIONS.prepare.description)),
      REPORT_FUNCTION: localName(functionId(FUNCTIONS.report.description)),
    };
    // the deployed settings (provider routing, poll cap); the store and blocks stay local, and the
    // Prefect API (a server this test has not got; test/prefect-lifecycle.test.ts runs it on the fake) is left out
    const {
      SUBMITTER_STORE: _store,
      PREFECT_API_URL: _prefectUrl,
      PREFECT_API_KEY_SECRET_ARN: _prefectKey,
      ...deployed
    } = prepareEnv;
    assert.equal(_prefectUrl, 'https://prefect.example.com/api', 'Prepare is deployed with the Prefect API');
    const { deps, reports } = await testDeps({ env: { ...deployed, ...names } });
    const event = await sample('process-flow-run.json');
    (event.flow_run as Record<string, unknown>).id = randomUUID();
    const accepted = await accept(deps, unwrap(event));

    const invoked: string[] = [];
    const options: RunOptions = {
      deps,
      definition,
      onEvent: (e) => {
        if (e.type === 'StateEntered') invoked.push(e.state.name);
      },
    };
    const { state } = await runDefinition(accepted.input, options);

    assert.equal(state.run?.function, JSON.parse(prepareEnv.PROVIDER_FUNCTIONS ?? '{}').process);
    assert.equal(state.run?.poll.cap_seconds, 60, 'the deployed poll cap');
    assert.equal(reports.length, 1);
    assert.equal(reports[0]?.state, 'Completed');
    assert.equal(reports[0]?.status_code, 0);
    assert.match(reports[0]?.logs_tail ?? '', /parameters: \{"name":"world","count":3\}/);
    assert.deepEqual(
      [...new Set(invoked)],
      ['Prepare', 'Submit', 'Watch', 'Report', 'Cleanup'],
      'the states of the deployed definition ran',
    );
  });

  it('has the trigger refuse a block type the deployment has no provider function for', async () => {
    const { SUBMITTER_STORE: _store, STATE_MACHINE_ARN: _machine, ...deployed } = triggerEnv;
    const { deps } = await testDeps({ env: deployed });
    const event = await sample('process-flow-run.json');
    (event.flow_run as Record<string, unknown>).id = randomUUID();
    event.infrastructure = { type: 'docker-container', image: 'busybox' };
    await assert.rejects(
      () => accept(deps, unwrap(event)),
      /'docker-container' is not enabled in this deployment/,
    );
  });
});
