/**
 * Runs the built package through n8n-core's real WorkflowExecute: the package is loaded from this
 * repository with PackageDirectoryLoader (as n8n loads community packages), a stub trigger feeds
 * the items, and the credential is resolved and applied the way n8n's CredentialsHelper does for a
 * generic (header) credential. No n8n-nodes-base needed.
 */
import path from 'node:path';

import { ExecutionLifecycleHooks, PackageDirectoryLoader, WorkflowExecute } from 'n8n-core';
import type {
	ICredentialDataDecryptedObject,
	ICredentialType,
	IDataObject,
	IExecuteFunctions,
	IHttpRequestOptions,
	INode,
	INodeCredentialsDetails,
	INodeExecutionData,
	INodeType,
	INodeTypes,
	IRun,
	IRunExecutionData,
	IVersionedNodeType,
	IWorkflowBase,
	IWorkflowExecuteAdditionalData,
	NodeParameterValueType,
	WorkflowExecuteMode,
} from 'n8n-workflow';
import * as n8nWorkflow from 'n8n-workflow';
import { ICredentialsHelper, NodeConnectionTypes, NodeHelpers, Workflow } from 'n8n-workflow';

export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
export const NODE_TYPE = 'n8n-nodes-cloman.cloMan';
export const TOOL_NODE_TYPE = 'n8n-nodes-cloman.cloManTool';
export const CREDENTIAL_TYPE = 'cloManApi';
const START_TYPE = 'test.start';
const AFTER_TYPE = 'test.after';

/** The stub start node: passes the items it is given through, like n8n's Manual Trigger. */
class StubStart implements INodeType {
	description = {
		displayName: 'Start',
		name: START_TYPE,
		group: ['trigger'],
		version: 1,
		description: 'Emits the test items',
		defaults: { name: 'Start' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		properties: [],
	} as unknown as INodeType['description'];

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return [this.getInputData().map((item, index) => ({ ...item, pairedItem: { item: index } }))];
	}
}

/**
 * A stub downstream node: records, per item, what `$('Start').item` resolves to through n8n's
 * paired-item chain, so a test can see whether pairing survives the CloMan node (and a resume).
 */
class StubAfter implements INodeType {
	description = {
		displayName: 'After',
		name: AFTER_TYPE,
		group: ['transform'],
		version: 1,
		description: 'Resolves $("Start").item for every item',
		defaults: { name: 'After' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		properties: [],
	} as unknown as INodeType['description'];

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return [
			this.getInputData().map((item, index) => {
				let start: unknown;
				try {
					start = this.evaluateExpression("{{ $('Start').item.json }}", index);
				} catch (error) {
					start = { pairing_error: (error as Error).message };
				}
				return { json: { ...item.json, start_item: start as IDataObject }, pairedItem: { item: index } };
			}),
		];
	}
}

interface Loaded {
	nodeTypes: INodeTypes;
	credentialTypes: Record<string, ICredentialType>;
	loader: PackageDirectoryLoader;
}

let loaded: Promise<Loaded> | undefined;

/** Load dist/ as n8n loads an installed community package (once per test file). */
export async function loadPackage(): Promise<Loaded> {
	loaded ??= (async () => {
		const loader = new PackageDirectoryLoader(PACKAGE_ROOT);
		await loader.loadAll();
		const types: Record<string, INodeType | IVersionedNodeType> = {
			[START_TYPE]: new StubStart(),
			[AFTER_TYPE]: new StubAfter(),
		};
		for (const [name, data] of Object.entries(loader.nodeTypes)) {
			types[name.includes('.') ? name : `${loader.packageName}.${name}`] = data.type;
		}
		// The tool variant n8n derives from a usableAsTool node runs the same class under "<type>Tool".
		types[TOOL_NODE_TYPE] = types[NODE_TYPE];
		const credentialTypes: Record<string, ICredentialType> = {};
		for (const [name, data] of Object.entries(loader.credentialTypes)) credentialTypes[name] = data.type;
		const nodeTypes: INodeTypes = {
			getByName: (type) => types[type],
			getByNameAndVersion: (type, version) => NodeHelpers.getVersionedNodeType(types[type], version),
			getKnownTypes: () => ({}),
		} as INodeTypes;
		return { nodeTypes, credentialTypes, loader };
	})();
	return await loaded;
}

/** Resolve `={{$credentials.x}}`-style values of a generic credential, as n8n's CredentialsHelper does. */
function resolveCredentialExpression(value: unknown, credentials: ICredentialDataDecryptedObject): unknown {
	if (typeof value !== 'string' || !value.startsWith('=')) return value;
	const body = value.slice(1);
	return body.replace(/\{\{\s*\$credentials\.([A-Za-z0-9_]+)\s*\}\}/g, (_m, key: string) =>
		String(credentials[key] ?? ''),
	);
}

class TestCredentialsHelper extends ICredentialsHelper {
	constructor(
		private readonly types: Record<string, ICredentialType>,
		private readonly byId: Record<string, ICredentialDataDecryptedObject>,
	) {
		super();
	}

	getParentTypes(): string[] {
		return [];
	}

	isCredentialUsableByNode(): boolean {
		return true;
	}

	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
		requestOptions: IHttpRequestOptions,
	): Promise<IHttpRequestOptions> {
		const type = this.types[typeName];
		const authenticate = type?.authenticate;
		if (typeof authenticate === 'function') return await authenticate(credentials, requestOptions);
		if (authenticate && authenticate.type === 'generic') {
			for (const [where, entries] of Object.entries(authenticate.properties)) {
				const target = ((requestOptions as unknown as IDataObject)[where] ??= {}) as IDataObject;
				for (const [key, value] of Object.entries(entries as IDataObject)) {
					target[key] = resolveCredentialExpression(value, credentials) as IDataObject[string];
				}
			}
		}
		return requestOptions;
	}

	async preAuthentication() {
		return undefined;
	}

	async runPreAuthentication() {
		return undefined;
	}

	async getCredentials(): Promise<never> {
		throw new Error('not used by these tests');
	}

	/** How often n8n looked the credential up (in n8n: a database read and a decryption each time). */
	reads = 0;

	async getDecrypted(
		_additionalData: IWorkflowExecuteAdditionalData,
		nodeCredentials: INodeCredentialsDetails,
	): Promise<ICredentialDataDecryptedObject> {
		this.reads++;
		const data = this.byId[nodeCredentials.id ?? ''];
		if (!data) throw new Error(`No test credential with id ${nodeCredentials.id}`);
		// Defaults of the credential type apply, as in n8n.
		const type = this.types[CREDENTIAL_TYPE];
		const withDefaults: ICredentialDataDecryptedObject = {};
		for (const property of type.properties) withDefaults[property.name] = property.default as string;
		return { ...withDefaults, ...data };
	}

	async updateCredentials() {}

	async updateCredentialsOauthTokenData() {}

	getCredentialsProperties() {
		return [];
	}
}

export interface RunOptions {
	/** The items the start node emits. */
	items: IDataObject[];
	/** Parameters of the CloMan node. */
	parameters: Record<string, NodeParameterValueType>;
	/** Credential data (apiKey, baseUrl). */
	credential: ICredentialDataDecryptedObject;
	onError?: 'stopWorkflow' | 'continueRegularOutput' | 'continueErrorOutput';
	nodeType?: string;
	/** Called with the running execution, e.g. to cancel it. */
	onStart?: (execution: { cancel: () => void }) => void;
	/** Connect a stub node "After <n>" to each of the CloMan node's first n outputs (paired-item checks). */
	downstream?: number;
	/** n8n's execution mode; 'manual' unless told. */
	mode?: WorkflowExecuteMode;
}

export interface RunResult {
	/** Every main output of the CloMan node, the error output last when onError = continueErrorOutput. */
	outputs: INodeExecutionData[][];
	/** The error the CloMan node stopped with, if any. */
	error?: { message: string; description?: string | null; [key: string]: unknown };
	status: IRun['status'];
	run: IRun;
	/** How often the run looked the credential up through n8n's credentials helper. */
	credentialReads: number;
	/** What n8n would store for this execution, to continue it later (see test/harness/resume.ts). */
	stored: StoredExecution;
}

/** An execution as n8n keeps it in its database: the workflow and the run data, serialized. */
export interface StoredExecution {
	executionId: string;
	mode: WorkflowExecuteMode;
	workflowData: IWorkflowBase;
	credential: ICredentialDataDecryptedObject;
	/** JSON of IRunExecutionData, as written when the run stopped (waiting, finished or failed). */
	data: string;
	status: IRun['status'];
	finished: boolean;
}

export const CLOMAN_NODE_NAME = 'CloMan';
export const EXECUTION_ID = 'exec1';
export const HARNESS_BASE_URL = 'http://127.0.0.1:1';

/**
 * n8n-core 1.x (n8n 1.123.x) starts SSHClientsManager's 60 s cleanup interval, on the first node run, without
 * unref() (2.x unrefs it), so jest would not exit after the test file. Unref it; a no-op on 2.x. The
 * manager is a DI singleton of the @n8n/di copy n8n-core itself uses, hence resolved from n8n-core's folder.
 */
function releaseEngineTimers(): void {
	try {
		const coreDir = path.dirname(require.resolve('n8n-core/package.json'));
		const { Container } = require(require.resolve('@n8n/di', { paths: [coreDir] }));
		const { SSHClientsManager } = require(path.join(coreDir, 'dist', 'execution-engine', 'ssh-clients-manager'));
		const timer = Container.get(SSHClientsManager)?.cleanupTimer as NodeJS.Timeout | undefined;
		timer?.unref?.();
	} catch {
		// Layout differs in this n8n-core: nothing to release.
	}
}

/** The workflow Start → CloMan (→ "After <n>" on each output when `downstream`). */
function buildWorkflowData(options: RunOptions): IWorkflowBase {
	const start: INode = {
		id: 'start',
		name: 'Start',
		type: START_TYPE,
		typeVersion: 1,
		position: [0, 0],
		parameters: {},
	};
	const cloman: INode = {
		id: 'cloman-node-id',
		name: CLOMAN_NODE_NAME,
		type: options.nodeType ?? NODE_TYPE,
		typeVersion: 1,
		position: [200, 0],
		parameters: options.parameters as INode['parameters'],
		credentials: { [CREDENTIAL_TYPE]: { id: 'cred1', name: 'CloMan test' } },
		...(options.onError ? { onError: options.onError } : {}),
	};
	const nodes = [start, cloman];
	const connections: IWorkflowBase['connections'] = {
		Start: { main: [[{ node: CLOMAN_NODE_NAME, type: NodeConnectionTypes.Main, index: 0 }]] },
	};
	if (options.downstream) {
		const main: IWorkflowBase['connections'][string]['main'] = [];
		for (let output = 0; output < options.downstream; output++) {
			const name = `After ${output}`;
			nodes.push({ id: `after${output}`, name, type: AFTER_TYPE, typeVersion: 1, position: [400, output * 100], parameters: {} });
			main.push([{ node: name, type: NodeConnectionTypes.Main, index: 0 }]);
		}
		connections[CLOMAN_NODE_NAME] = { main };
	}
	return {
		id: 'wf1',
		name: 'CloMan test',
		nodes,
		connections,
		active: false,
		settings: {},
		createdAt: new Date(),
		updatedAt: new Date(),
	} as unknown as IWorkflowBase;
}

/** A Workflow object built from stored workflow data, as each n8n process builds its own. */
export function workflowFrom(workflowData: IWorkflowBase, nodeTypes: INodeTypes): Workflow {
	return new Workflow({
		id: workflowData.id,
		name: workflowData.name,
		nodes: JSON.parse(JSON.stringify(workflowData.nodes)),
		connections: workflowData.connections,
		active: false,
		nodeTypes,
		settings: workflowData.settings,
	});
}

export interface EngineContext {
	additionalData: IWorkflowExecuteAdditionalData;
	hooks: ExecutionLifecycleHooks;
	finished: Promise<IRun>;
	credentialsHelper: TestCredentialsHelper;
}

/** Fresh hooks and additional data for one run (or one continuation) of an execution. */
export async function engineContext(
	mode: WorkflowExecuteMode,
	workflowData: IWorkflowBase,
	credential: ICredentialDataDecryptedObject,
	extra: Partial<IWorkflowExecuteAdditionalData> = {},
): Promise<EngineContext> {
	const { credentialTypes } = await loadPackage();
	const credentialsHelper = new TestCredentialsHelper(credentialTypes, { cred1: credential });
	const hooks = new ExecutionLifecycleHooks(mode, EXECUTION_ID, workflowData);
	let resolveRun: (run: IRun) => void = () => {};
	const finished = new Promise<IRun>((resolve) => (resolveRun = resolve));
	hooks.addHandler('workflowExecuteAfter', (run: IRun) => resolveRun(run));
	const additionalData = {
		hooks,
		credentialsHelper,
		currentNodeParameters: undefined,
		executionId: EXECUTION_ID,
		restApiUrl: `${HARNESS_BASE_URL}/rest`,
		instanceBaseUrl: `${HARNESS_BASE_URL}/`,
		webhookBaseUrl: `${HARNESS_BASE_URL}/webhook`,
		webhookWaitingBaseUrl: `${HARNESS_BASE_URL}/webhook-waiting`,
		webhookTestBaseUrl: `${HARNESS_BASE_URL}/webhook-test`,
		formWaitingBaseUrl: `${HARNESS_BASE_URL}/form-waiting`,
		variables: {},
		userId: 'user1',
		executeWorkflow: async () => {
			throw new Error('sub-workflows are not used here');
		},
		getRunExecutionData: async () => undefined,
		setExecutionStatus: () => {},
		sendDataToUI: () => {},
		logAiEvent: () => {},
		startRunnerTask: async () => {
			throw new Error('task runners are not used here');
		},
		...extra,
	} as unknown as IWorkflowExecuteAdditionalData;
	return { additionalData, hooks, finished, credentialsHelper };
}

/**
 * The run data n8n creates for a new execution: with n8n-workflow 2.x's factory (which gives the
 * execution its resume token, as n8n does), or the plain shape of 1.x (no token).
 */
function newRunExecutionData(start: INode, items: IDataObject[]): IRunExecutionData {
	const executionData = {
		contextData: {},
		metadata: {},
		nodeExecutionStack: [{ node: start, data: { main: [items.map((json) => ({ json }))] }, source: null }],
		waitingExecution: {},
		waitingExecutionSource: {},
	};
	const factory = (n8nWorkflow as unknown as { createRunExecutionData?: (options: object) => IRunExecutionData })
		.createRunExecutionData;
	if (typeof factory === 'function') return factory({ executionData });
	return { startData: {}, resultData: { runData: {} }, executionData } as unknown as IRunExecutionData;
}

/** Serialize the run data as n8n stores an execution (Dates become strings; waitTill is a column). */
export function storeRun(
	run: IRun,
	data: IRunExecutionData,
	context: { mode: WorkflowExecuteMode; workflowData: IWorkflowBase; credential: ICredentialDataDecryptedObject },
): StoredExecution {
	return {
		executionId: EXECUTION_ID,
		mode: context.mode,
		workflowData: context.workflowData,
		credential: context.credential,
		data: JSON.stringify(data),
		status: run.status,
		finished: run.finished === true,
	};
}

/** The run data of a stored execution, as a process that loads it from the database sees it. */
export function loadRun(stored: StoredExecution): IRunExecutionData {
	const data = JSON.parse(stored.data) as IRunExecutionData;
	if (typeof data.waitTill === 'string') data.waitTill = new Date(data.waitTill);
	return data;
}

/** The CloMan node's outputs in the last run of an execution. */
export function clomanOutputs(run: IRun): Pick<RunResult, 'outputs' | 'error'> {
	const runs = run.data.resultData.runData[CLOMAN_NODE_NAME] ?? [];
	const taskData = runs[runs.length - 1];
	const outputs = (taskData?.data?.main ?? []).map((items: INodeExecutionData[] | null) => items ?? []);
	const error = (taskData?.error ?? undefined) as RunResult['error'];
	return { outputs, error };
}

/** Build a workflow Start → CloMan and run it through WorkflowExecute. */
export async function runCloMan(options: RunOptions): Promise<RunResult> {
	const { nodeTypes } = await loadPackage();
	const mode = options.mode ?? 'manual';
	const workflowData = buildWorkflowData(options);
	const workflow = workflowFrom(workflowData, nodeTypes);
	const { additionalData, finished, credentialsHelper } = await engineContext(mode, workflowData, options.credential);
	const runExecutionData = newRunExecutionData(workflowData.nodes[0], options.items);

	const workflowExecute = new WorkflowExecute(additionalData, mode, runExecutionData);
	const execution = workflowExecute.processRunExecutionData(workflow);
	options.onStart?.({ cancel: () => execution.cancel() });
	await execution.catch(() => undefined);
	const run = await finished;
	releaseEngineTimers();
	return {
		...clomanOutputs(run),
		status: run.status,
		run,
		credentialReads: credentialsHelper.reads,
		stored: storeRun(run, run.data, { mode, workflowData, credential: options.credential }),
	};
}

/** Continue a stored execution with WorkflowExecute, as n8n does when it resumes a waiting run. */
export async function continueRun(
	stored: StoredExecution,
	data: IRunExecutionData,
): Promise<{ run: IRun; stored: StoredExecution }> {
	const { nodeTypes } = await loadPackage();
	const workflow = workflowFrom(stored.workflowData, nodeTypes);
	const { additionalData, finished } = await engineContext(stored.mode, stored.workflowData, stored.credential);
	const workflowExecute = new WorkflowExecute(additionalData, stored.mode, data);
	await workflowExecute.processRunExecutionData(workflow).catch(() => undefined);
	const run = await finished;
	releaseEngineTimers();
	return { run, stored: storeRun(run, run.data, stored) };
}

/** All items the CloMan node put out, on every output, with the output index. */
export function allOutputItems(outputs: INodeExecutionData[][]) {
	return outputs.flatMap((items, output) => items.map((item) => ({ output, item })));
}
