import type { INodeParameters } from 'n8n-workflow';
import { WAIT_INDEFINITELY } from 'n8n-workflow';

import { planReviewRoutes } from '../../routing';
import type { ReviewPlan } from '../../routing';
import type { AccessSettings } from './access';
import { readAccessSettings } from './access';

/** Reads one node parameter shared by all items (execute and webhook contexts read it differently). */
export type ParameterReader = (name: string, fallback: unknown) => unknown;

/** Review's settings shared by every item; read the same way before the pause and on the page. */
export interface ReviewSettings {
	plan: ReviewPlan;
	decisionField: string;
	allowCustom: boolean;
	/** Listed decision values, as typed (decision mode), for the reviewer's choices. */
	listed: string[];
	pageTitle: string;
	pageMessage: string;
	/** Who may review, and the four-eyes rule (access.ts). */
	access: AccessSettings;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : value == null ? '' : String(value));

/** Throws an Error with a user-facing message when the settings contradict. */
export function readReviewSettings(read: ParameterReader): ReviewSettings {
	const reviewRouteBy = text(read('reviewRouteBy', 'decision')) || 'decision';
	const decisions = (read('decisions', {}) ?? {}) as INodeParameters;
	const plan = planReviewRoutes({
		reviewRouteBy,
		decisions,
		limitWaitTime: read('limitWaitTime', true) !== false,
	});
	const decisionField = text(read('decisionField', 'cloman')).trim();
	const values = ((decisions.values ?? []) as Array<{ value?: unknown }>).map((entry) => text(entry.value).trim());
	return {
		plan,
		decisionField,
		allowCustom: read('allowCustomDecision', true) !== false,
		listed: reviewRouteBy === 'single' ? [] : values.filter((value) => value !== ''),
		pageTitle: text(read('pageTitle', '')).trim() || "Review the clone's decisions",
		pageMessage: text(read('pageMessage', '')).trim(),
		access: readAccessSettings(read),
	};
}

const UNIT_MS: Record<string, number> = { minutes: 60_000, hours: 3_600_000, days: 86_400_000 };

/** When the wait ends without a review (WAIT_INDEFINITELY when there is no limit); throws on a bad limit. */
export function readWaitTill(read: ParameterReader, now: number): Date {
	if (read('limitWaitTime', true) === false) return WAIT_INDEFINITELY;
	const type = text(read('limitType', 'afterTimeInterval'));
	if (type === 'atSpecifiedTime') {
		const raw = read('maxDateAndTime', '');
		const at = new Date(raw instanceof Date ? raw.getTime() : text(raw));
		if (text(raw).trim() === '' || Number.isNaN(at.getTime())) {
			throw new Error(`Max Date and Time "${text(raw)}" is not a date and time`);
		}
		if (at.getTime() <= now) throw new Error(`Max Date and Time ${at.toISOString()} has already passed`);
		return at;
	}
	const amount = Number(read('resumeAmount', 1));
	const unit = text(read('resumeUnit', 'days'));
	if (!UNIT_MS[unit]) throw new Error(`Unit must be minutes, hours or days, not "${unit}"`);
	if (!Number.isFinite(amount) || amount <= 0) {
		throw new Error(`Amount of the wait limit must be a number above 0, not "${String(amount)}"`);
	}
	return new Date(now + amount * UNIT_MS[unit]);
}
