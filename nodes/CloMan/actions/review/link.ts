import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';

/** The query parameter n8n 2.x puts its per-execution resume token in. */
export const SIGNATURE_PARAM = 'signature';

/**
 * The review link: the run's resume URL with "/<node id>" added to its path, the query (the resume
 * token) kept. `signed` is false when the URL carries no token: n8n 1.x, where anyone who knows the
 * execution id can resume the run.
 */
export function reviewLink(resumeUrl: string, nodeId: string): { url: string; signed: boolean } {
	const url = new URL(resumeUrl);
	url.pathname = `${url.pathname.replace(/\/+$/, '')}/${encodeURIComponent(nodeId)}`;
	const token = url.searchParams.get(SIGNATURE_PARAM);
	return { url: url.toString(), signed: typeof token === 'string' && token !== '' };
}

export type NotifyFormat = 'text' | 'discord' | 'generic';

export interface NotifyInfo {
	title: string;
	url: string;
	itemCount: number;
	executionId: string;
	/** ISO time the link stops working, when the wait is limited. */
	expiresAt?: string;
	/** The named reviewer this (personal) link is for: the message is addressed to them. */
	reviewer?: { email: string; name: string };
}

const ZWSP = '\u200B';

/** Breaks markdown links ("[text](url)") and bare links ("https://…") in any chat flavour, invisibly. */
function breakLinks(value: string): string {
	return value.replace(/\]\s*\(/g, (match) => `${match.slice(0, -1)}${ZWSP}(`).replace(/:\/\//g, `:${ZWSP}//`);
}

/**
 * Text from the workflow (the page title) for the "text" field of Slack, Mattermost, Teams and Google
 * Chat: `& < >` as entities (Slack's and Google Chat's escaping; so no `<!channel>`, `<@U…>`,
 * `<users/all>` or `<url|text>`), "@" followed by a zero-width space (Mattermost's `@channel`, `@all`,
 * `@here`), and links broken. The link and counts this node adds are not escaped.
 */
export function escapeChatText(value: string): string {
	const escaped = value.replace(/[&<>]/g, (char) => (char === '&' ? '&amp;' : char === '<' ? '&lt;' : '&gt;'));
	return breakLinks(escaped).replace(/@/g, `@${ZWSP}`);
}

/**
 * Text from the workflow for Discord's "content": `@everyone`, `@here` and `<@…>`/`<@&…>` mentions
 * broken (the body also carries `allowed_mentions: {parse: []}`, so nothing pings), masked links broken.
 */
export function escapeDiscordText(value: string): string {
	return breakLinks(value)
		.replace(/@/g, `@${ZWSP}`)
		.replace(/</g, `<${ZWSP}`);
}

function message(title: string, info: NotifyInfo, escape: (value: string) => string): string {
	const items = `${info.itemCount} item${info.itemCount === 1 ? '' : 's'}`;
	const until = info.expiresAt ? ` (until ${info.expiresAt})` : '';
	const to = info.reviewer ? `For ${escape(info.reviewer.name ? `${info.reviewer.name} (${info.reviewer.email})` : info.reviewer.email)}, your personal link: ` : '';
	// n8n stores the run as waiting only after the node returns: a click in the first second or so gets
	// n8n's own "is running already" (409), before the page can say anything.
	return `${to}${escape(title)}: ${items} ${info.itemCount === 1 ? 'waits' : 'wait'} for your review${until} (if the link says the execution is running, reload it a few seconds later): ${info.url}`;
}

/**
 * The JSON body for an incoming webhook of the given shape. Chat formats get the title escaped for
 * the markup they parse; "generic" is data for the user's own receiver (the title as it is).
 */
export function notificationBody(format: NotifyFormat, info: NotifyInfo): IDataObject {
	if (format === 'discord') {
		return { content: message(info.title, info, escapeDiscordText), allowed_mentions: { parse: [] } };
	}
	const text = message(info.title, info, format === 'generic' ? (value) => value : escapeChatText);
	if (format === 'generic') {
		return {
			text,
			title: info.title,
			url: info.url,
			execution_id: info.executionId,
			item_count: info.itemCount,
			expires_at: info.expiresAt ?? null,
			...(info.reviewer ? { email: info.reviewer.email, name: info.reviewer.name } : {}),
		};
	}
	return { text };
}

/** The host of a webhook URL, safe to show: the path of an incoming-webhook URL is its secret. */
function hostOf(url: string): string {
	try {
		return new URL(url).host;
	} catch {
		return 'an invalid URL';
	}
}

const NETWORK_REASONS: Record<string, string> = {
	ECONNREFUSED: 'the connection was refused',
	ENOTFOUND: 'its host name is unknown',
	EAI_AGAIN: 'its host name could not be resolved',
	ECONNRESET: 'the connection was dropped',
	ETIMEDOUT: 'it did not answer in time',
	ECONNABORTED: 'it did not answer in time',
};

/**
 * POST the link to an incoming-webhook URL through n8n's request helper. Returns a message saying
 * what went wrong (naming only the host), or undefined when the receiver accepted it (2xx).
 */
export async function postNotification(
	ctx: IExecuteFunctions,
	webhookUrl: string,
	body: IDataObject,
): Promise<string | undefined> {
	let parsed: URL;
	try {
		parsed = new URL(webhookUrl.trim());
	} catch {
		return 'Webhook URL of "Notify Reviewer" is not a URL';
	}
	if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
		return `Webhook URL of "Notify Reviewer" must start with https:// or http://, not "${parsed.protocol}"`;
	}
	const host = hostOf(parsed.toString());
	try {
		const answer = (await ctx.helpers.httpRequest({
			method: 'POST',
			url: parsed.toString(),
			body,
			json: true,
			timeout: 15_000,
			returnFullResponse: true,
			ignoreHttpStatusErrors: true,
		})) as { statusCode: number };
		if (answer.statusCode >= 200 && answer.statusCode < 300) return undefined;
		return `The review link could not be posted to ${host}: it answered HTTP ${answer.statusCode}`;
	} catch (error) {
		// In words: n8n's error class replaces a message that names a socket code with its own text.
		const code = String((error as { code?: unknown }).code ?? (error as { cause?: { code?: unknown } }).cause?.code ?? '');
		return `The review link could not be posted to ${host}: ${NETWORK_REASONS[code] ?? 'it did not answer'}`;
	}
}
