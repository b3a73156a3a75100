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
} from 'n8n-workflow';
import { ICredentialsHelper, NodeConnectionTypes, NodeHelpers, Workflow } from 'n8n-workflow';

export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
export const NODE_TYPE = 'n8n-nodes-cloman.cloMan';
export const TOOL_NODE_TYPE = 'n8n-nodes-cloman.cloManTool';
export const CREDENTIAL_TYPE = 'cloManApi';
const START_TYPE = 'test.start';

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
		const types: Record<string, INodeType | IVersionedNodeType> = { [START_TYPE]: new StubStart() };
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
}

export const CLOMAN_NODE_NAME = 'CloMan';

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

/** Build a workflow Start → CloMan and run it through WorkflowExecute. */
export async function runCloMan(options: RunOptions): Promise<RunResult> {
	const { nodeTypes, credentialTypes } = await loadPackage();
	const credentialsHelper = new TestCredentialsHelper(credentialTypes, { cred1: options.credential });
	const start: INode = {
		id: 'start',
		name: 'Start',
		type: START_TYPE,
		typeVersion: 1,
		position: [0, 0],
		parameters: {},
	};
	const cloman: INode = {
		id: 'cloman',
		name: CLOMAN_NODE_NAME,
		type: options.nodeType ?? NODE_TYPE,
		typeVersion: 1,
		position: [200, 0],
		parameters: options.parameters as INode['parameters'],
		credentials: { [CREDENTIAL_TYPE]: { id: 'cred1', name: 'CloMan test' } },
		...(options.onError ? { onError: options.onError } : {}),
	};
	const connections = {
		Start: { main: [[{ node: CLOMAN_NODE_NAME, type: NodeConnectionTypes.Main, index: 0 }]] },
	};
	const workflowData = {
		id: 'wf1',
		name: 'CloMan test',
		nodes: [start, cloman],
		connections,
		active: false,
		settings: {},
		createdAt: new Date(),
		updatedAt: new Date(),
	} as unknown as IWorkflowBase;
	const workflow = new Workflow({
		id: 'wf1',
		nodes: workflowData.nodes,
		connections,
		active: false,
		nodeTypes,
		settings: {},
	});

	const hooks = new ExecutionLifecycleHooks('manual', 'exec1', workflowData);
	let resolveRun: (run: IRun) => void = () => {};
	const finished = new Promise<IRun>((resolve) => (resolveRun = resolve));
	hooks.addHandler('workflowExecuteAfter', (run: IRun) => resolveRun(run));

	const additionalData = {
		hooks,
		credentialsHelper,
		currentNodeParameters: undefined,
		executionId: 'exec1',
		restApiUrl: 'http://127.0.0.1:1/rest',
		instanceBaseUrl: 'http://127.0.0.1:1/',
		webhookBaseUrl: 'http://127.0.0.1:1/webhook',
		webhookWaitingBaseUrl: 'http://127.0.0.1:1/webhook-waiting',
		webhookTestBaseUrl: 'http://127.0.0.1:1/webhook-test',
		formWaitingBaseUrl: 'http://127.0.0.1:1/form-waiting',
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
	} as unknown as IWorkflowExecuteAdditionalData;

	const runExecutionData = {
		startData: {},
		resultData: { runData: {} },
		executionData: {
			contextData: {},
			metadata: {},
			nodeExecutionStack: [
				{
					node: start,
					data: { main: [options.items.map((json) => ({ json }))] },
					source: null,
				},
			],
			waitingExecution: {},
			waitingExecutionSource: {},
		},
	} as unknown as IRunExecutionData;

	const workflowExecute = new WorkflowExecute(additionalData, 'manual', runExecutionData);
	const execution = workflowExecute.processRunExecutionData(workflow);
	options.onStart?.({ cancel: () => execution.cancel() });
	await execution.catch(() => undefined);
	const run = await finished;
	releaseEngineTimers();
	const taskData = run.data.resultData.runData[CLOMAN_NODE_NAME]?.[0];
	const outputs = (taskData?.data?.main ?? []).map((items: INodeExecutionData[] | null) => items ?? []);
	const error = (taskData?.error ?? undefined) as RunResult['error'];
	return { outputs, error, status: run.status, run, credentialReads: credentialsHelper.reads };
}

/** All items the CloMan node put out, on every output, with the output index. */
export function allOutputItems(outputs: INodeExecutionData[][]) {
	return outputs.flatMap((items, output) => items.map((item) => ({ output, item })));
}
