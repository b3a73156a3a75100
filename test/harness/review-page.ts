/**
 * Reading the review page the way a browser submits it, for engine tests (the page in a real browser
 * is the e2e's part). Works on the markup page.ts writes: one control per tag, attributes in quotes.
 */
const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

export function unescapeHtml(text: string): string {
	return text.replace(/&(amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity]);
}

function attribute(tag: string, name: string): string | undefined {
	const match = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
	return match ? unescapeHtml(match[1]) : undefined;
}

/** The form#review's successful controls in document order, as a browser would send them (no submitter). */
export function formFields(html: string): Array<[string, string]> {
	const form = /<form id="review"[^>]*>([\s\S]*?)<\/form>/.exec(html);
	if (!form) throw new Error('no form#review in the page');
	const fields: Array<[string, string]> = [];
	const controls = /<input[^>]*>|<select[^>]*>[\s\S]*?<\/select>|<textarea[^>]*>[\s\S]*?<\/textarea>/g;
	for (const [control] of form[1].matchAll(controls)) {
		const name = attribute(control, 'name');
		if (name === undefined) continue;
		if (control.startsWith('<input')) {
			fields.push([name, attribute(control, 'value') ?? '']);
		} else if (control.startsWith('<select')) {
			const options = [...control.matchAll(/<option value="([^"]*)"( selected)?>/g)];
			const chosen = options.find((option) => option[2]) ?? options[0];
			fields.push([name, chosen ? unescapeHtml(chosen[1]) : '']);
		} else {
			fields.push([name, unescapeHtml(/<textarea[^>]*>([\s\S]*?)<\/textarea>/.exec(control)![1])]);
		}
	}
	return fields;
}

/** Set fields of a form body (by name), keeping document order. */
export function fill(fields: Array<[string, string]>, values: Record<string, string>): Array<[string, string]> {
	const names = new Set(fields.map(([name]) => name));
	for (const name of Object.keys(values)) if (!names.has(name)) throw new Error(`the form has no field ${name}`);
	return fields.map(([name, value]) => [name, values[name] ?? value]);
}

/** The form's fields plus the button pressed, placed before form_end as a browser does (tree order). */
export function submitWith(fields: Array<[string, string]>, button: 'submit' | 'keep_remaining' | 'apply_view'): Array<[string, string]> {
	const end = fields.findIndex(([name]) => name === 'form_end');
	const copy = [...fields];
	copy.splice(end === -1 ? copy.length : end, 0, [button, '1']);
	return copy;
}

/** data-index of every item section, in page order. */
export function sectionIndexes(html: string): number[] {
	return [...html.matchAll(/<section class="item[^"]*" data-index="(\d+)"/g)].map((match) => Number(match[1]));
}

/** The option values of item i's decision list. */
export function optionValues(html: string, i: number): string[] {
	const select = new RegExp(`<select id="decision_${i}" name="decision_${i}"[^>]*>([\\s\\S]*?)</select>`).exec(html);
	if (!select) throw new Error(`no decision_${i} in the page`);
	return [...select[1].matchAll(/<option value="([^"]*)"/g)].map((match) => unescapeHtml(match[1]));
}
