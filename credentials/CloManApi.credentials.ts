import type { IAuthenticateGeneric, ICredentialTestRequest, ICredentialType, INodeProperties } from 'n8n-workflow';

/**
 * The Test button sends a decide request with an empty context. CloMan checks the key (401), its
 * decide scope (403) and the clone (404) before it validates the body, so a good key gets
 * 422 VALIDATION_ERROR back and no decision is made or billed.
 */
export class CloManApi implements ICredentialType {
	name = 'cloManApi';

	displayName = 'CloMan API';

	icon = { light: 'file:cloman.svg', dark: 'file:cloman.dark.svg' } as const;

	documentationUrl = 'https://github.com/cloman-app/n8n-nodes-cloman#credentials';

	properties: INodeProperties[] = [
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			required: true,
			default: '',
			placeholder: 'cloman_sk_…',
			description: 'A CloMan API key with the decide scope, linked to the clone that should decide',
		},
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			required: true,
			default: 'https://api.cloman.app',
			placeholder: 'https://api.cloman.app',
			description:
				'Address of the CloMan server: change it only for a self-hosted server. Scheme, host and port only (a trailing slash is fine).',
		},
	];

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: { 'X-API-Key': '={{$credentials.apiKey}}' },
		},
	};

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.baseUrl}}',
			url: '/api/v1/public/decide',
			method: 'POST',
			body: { context: '' },
			json: true,
			ignoreHttpStatusErrors: true,
		},
		rules: [
			{
				type: 'responseSuccessBody',
				properties: {
					key: 'error.code',
					value: 'AUTHENTICATION_ERROR',
					message: 'CloMan rejected the API key (401 AUTHENTICATION_ERROR): it is missing or invalid.',
				},
			},
			{
				type: 'responseSuccessBody',
				properties: {
					key: 'error.code',
					value: 'AUTHORIZATION_ERROR',
					message: 'CloMan accepted the key but it lacks the decide scope (403 AUTHORIZATION_ERROR).',
				},
			},
			{
				type: 'responseSuccessBody',
				properties: {
					key: 'error.code',
					value: 'CLONE_NOT_FOUND',
					message: 'The key is not linked to a clone, or the clone does not exist (404 CLONE_NOT_FOUND).',
				},
			},
			{
				type: 'responseSuccessBody',
				properties: {
					key: 'error.code',
					value: 'INTERNAL_ERROR',
					message: 'CloMan answered 500 INTERNAL_ERROR: the server failed, try again later.',
				},
			},
			{
				type: 'responseSuccessBody',
				properties: {
					key: 'error.code',
					value: 'LLM_SERVICE_ERROR',
					message: 'CloMan answered 502 LLM_SERVICE_ERROR: its AI service is unavailable, try again later.',
				},
			},
			{
				type: 'responseSuccessBody',
				properties: {
					key: 'error.code',
					value: undefined,
					message:
						'The server at this Base URL did not answer like a CloMan API (no CloMan error envelope). Check the Base URL.',
				},
			},
		],
	};
}
