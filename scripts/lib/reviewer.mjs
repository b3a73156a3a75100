// The demo's headless reviewer: Debian's chromium, driven by playwright-core (both set up by the
// harness into .cache/ / apt, not repo dependencies), fills in the Review node's page the way a person
// would, through the form's field names only:
//   <select name="decision_<i>">   the decision for item i ("__keep__" keeps the clone's, "__other__" = free text)
//   <textarea name="note_<i>">     the reviewer's note for item i
//   <input name="custom_<i>">      the free-text decision when "__other__" is chosen (not used here)
//   <button name="keep_remaining"> submit, keeping the clone's decision wherever nothing was chosen
//                                  (on a paged batch also for the items on later pages)
// Items the clone escalated (or decided a value that is not listed) start on "— choose a decision —"
// (value "") and cannot pass untouched: the reviewer chooses "Keep" for them, one by one. The note
// field is folded in the item's <details>: the reviewer opens it first.
// Nothing it loads may leave 127.0.0.1: any other request is aborted and reported (the e2e tier's
// loopback-only browser, e2e/browser.mjs).
import { launchLoopbackBrowser, prepareBrowser } from '../../e2e/browser.mjs';

const KEEP = '__keep__';
const OTHER = '__other__';

/** Launches headless chromium (the demo starts it while n8n starts, to have it ready for the link). */
export async function startChromium() {
	return await launchLoopbackBrowser(await prepareBrowser(), { width: 1280, height: 900 });
}

/**
 * Opens `link`, sets item `index` to the first offered decision other than `notDecision` (the
 * clone's), writes `note` for it, keeps every other item, submits. Returns
 * { index, decision, note, items, status } (items: how many decision fields the page had; status:
 * the HTTP status of the answer to the submit). `session`: one from startChromium (closed here),
 * else one is launched.
 */
export async function reviewInChromium({ link, index, notDecision, note: noteText, session, timeoutMs = 60_000 }) {
	const { browser, context, outside } = session ?? (await startChromium());
	try {
		const page = await context.newPage();
		page.setDefaultTimeout(timeoutMs);
		const opened = await page.goto(link);
		if (opened?.status() !== 200) throw new Error(`the review page answered ${opened?.status()}: ${(await page.textContent('body'))?.slice(0, 300)}`);

		const items = await page.locator('select[name^="decision_"]').count();
		const select = page.locator(`select[name="decision_${index}"]`);
		if ((await select.count()) !== 1) throw new Error(`the review page has no field decision_${index} (it has ${items} decision fields)`);
		const offered = await select.locator('option').evaluateAll((options) => options.map((o) => o.value));
		const decision = offered.find((v) => v !== '' && v !== KEEP && v !== OTHER && v !== notDecision);
		if (decision === undefined) throw new Error(`decision_${index} offers nothing but the clone's decision: ${JSON.stringify(offered)}`);
		await select.selectOption(decision);
		const note = page.locator(`textarea[name="note_${index}"]`);
		if (!(await note.isVisible())) await page.locator(`#item-${index} > details > summary`).click();
		await note.fill(noteText);
		// Every other item that waits for a person's choice: keep the clone's decision, deliberately.
		for (const other of await page.locator('select[name^="decision_"]').all()) {
			if ((await other.inputValue()) === '') await other.selectOption(KEEP);
		}

		const [answer] = await Promise.all([page.waitForNavigation(), page.click('button[name="keep_remaining"]')]);
		const status = answer?.status();
		if (status !== 200) throw new Error(`the submit was answered with ${status}: ${(await page.textContent('body'))?.slice(0, 300)}`);
		if (outside.length > 0) throw new Error(`the review page requested something outside 127.0.0.1: ${outside.join(', ')}`);
		return { index, decision, note: noteText, items, status };
	} finally {
		await browser.close();
	}
}
