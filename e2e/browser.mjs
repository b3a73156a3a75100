// The real-browser check: Debian's chromium driven by playwright-core (installed into .cache/,
// not a repo dependency). Logs in as the owner, opens a new workflow, finds "CloMan" in the node
// panel, adds it and saves a screenshot of the canvas with the node's named outputs.
import fs from 'node:fs';
import path from 'node:path';

import { OWNER, ensureChromium, ensurePlaywright, log } from '../scripts/lib/harness.mjs';

export const CHROMIUM_FLAGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
	'--no-first-run',
];

export async function prepareBrowser() {
	const chromium = await ensureChromium();
	const { playwright, version } = await ensurePlaywright();
	return { chromium, playwright, playwrightVersion: version };
}

/**
 * Launches chromium with one context in which nothing leaves 127.0.0.1: any other request is
 * aborted and listed in `outside`.
 */
export async function launchLoopbackBrowser({ playwright, chromium }, viewport = { width: 1600, height: 1000 }) {
	const browser = await playwright.chromium.launch({ executablePath: chromium.bin, headless: true, args: CHROMIUM_FLAGS });
	const context = await browser.newContext({ viewport });
	const outside = [];
	await context.route(
		(url) => !['127.0.0.1', 'localhost'].includes(url.hostname),
		(route) => {
			outside.push(route.request().url());
			return route.abort('blockedbyclient');
		},
	);
	return { browser, context, outside };
}

/**
 * Opens a browser session logged in to the instance. Requests to anything but 127.0.0.1 are
 * aborted and listed in `outside`.
 */
export async function openSession(browserTools, instance) {
	const { browser, context, outside } = await launchLoopbackBrowser(browserTools);
	const page = await context.newPage();
	page.setDefaultTimeout(30_000);
	const consoleErrors = [];
	page.on('console', (m) => {
		if (m.type() === 'error') consoleErrors.push(m.text());
	});
	await page.goto(`${instance.url}/signin`);
	await page.fill('input[name="emailOrLdapLoginId"]', OWNER.email);
	await page.fill('input[name="password"]', OWNER.password);
	await page.click('[data-test-id="form-submit-button"]');
	await page.waitForURL((u) => !u.pathname.startsWith('/signin'), { timeout: 60_000 });
	return { browser, page, outside, consoleErrors, close: () => browser.close() };
}

async function searchNodePanel(page, text) {
	const search = page.locator('[data-test-id="node-creator-search-bar"]');
	await search.fill(text);
	await page.waitForTimeout(600);
	return await page.$$eval('[data-test-id="node-creator-item-name"]', (els) => els.map((e) => e.textContent.trim()));
}

/** The output labels the canvas shows for a node, in order. */
export async function outputLabels(page, nodeName) {
	return await page.$$eval(
		'[data-test-id="canvas-node-output-handle"]',
		(els, name) =>
			els
				.filter((e) => e.getAttribute('data-node-name') === name)
				.sort((a, b) => Number(a.getAttribute('data-index')) - Number(b.getAttribute('data-index')))
				.map((e) => ({ type: e.getAttribute('data-connection-type'), label: e.textContent.trim() })),
		nodeName,
	);
}

/**
 * New workflow → Manual Trigger → node panel → search "CloMan" → add it (its one action) → close
 * the node's panel → screenshot. Returns what it saw; throws with a screenshot saved on failure.
 */
export async function addCloManToNewWorkflow(session, instance, screenshotFile) {
	const { page } = session;
	const seen = {};
	try {
		await page.goto(`${instance.url}/workflow/new`);
		await page.click('[data-test-id="canvas-plus-button"]');
		seen.triggerSearch = await searchNodePanel(page, 'Manual Trigger');
		await page.locator('[data-test-id="node-creator-item-name"]', { hasText: 'Manual Trigger' }).first().click();
		await page.waitForSelector('[data-test-id="canvas-trigger-node"]');
		await page.keyboard.press('Escape');

		await page.click('[data-test-id="node-creator-plus-button"]');
		seen.search = await searchNodePanel(page, 'CloMan');
		if (!seen.search.includes('CloMan')) {
			throw new Error(`the node panel's search for "CloMan" lists ${JSON.stringify(seen.search)}`);
		}
		await page.locator('[data-test-id="node-creator-item-name"]', { hasText: /^CloMan$/ }).first().click();
		// A node with operations shows its actions first; CloMan has one.
		await page.getByText('Ask the clone to decide').first().click();
		await page.waitForSelector('[data-test-id="ndv"]', { timeout: 15_000 }).catch(() => undefined);
		seen.parameters = await page.$$eval('[data-test-id^="parameter-input-"]', (els) =>
			[...new Set(els.map((e) => e.getAttribute('data-test-id').replace('parameter-input-', '')))],
		);
		await page.keyboard.press('Escape');
		await page.waitForSelector('[data-test-id="ndv"]', { state: 'detached', timeout: 10_000 }).catch(() => undefined);
		await page.click('[data-test-id="zoom-to-fit"]');
		await page.waitForTimeout(800);
		seen.nodes = await page.$$eval('[data-test-id="canvas-node"]', (els) => els.map((e) => e.getAttribute('data-node-name')));
		seen.outputs = await outputLabels(page, 'CloMan');
		await page.screenshot({ path: screenshotFile });
		return seen;
	} catch (error) {
		await page.screenshot({ path: screenshotFile.replace(/\.png$/, '-failed.png') }).catch(() => undefined);
		error.message += ` (seen: ${JSON.stringify(seen)})`;
		throw error;
	}
}

/**
 * Requests the n8n editor itself makes outside the instance, which the session blocks: when a
 * community node is picked in the node panel, the editor looks the package up on the npm registry
 * (author, download count) with fixed addresses and no setting to turn that off.
 */
export function isEditorPackageLookup(url, packageName) {
	const { pathname } = new URL(url);
	return pathname === `/${packageName}` || (pathname.startsWith('/downloads/') && pathname.endsWith(`/${packageName}`));
}

/** Opens an imported workflow and screenshots its canvas; returns the CloMan node's output labels. */
export async function screenshotWorkflow(session, instance, workflowId, screenshotFile) {
	const { page } = session;
	await page.goto(`${instance.url}/workflow/${workflowId}`);
	await page.waitForSelector('[data-test-id="canvas-node"]');
	await page.click('[data-test-id="zoom-to-fit"]');
	await page.waitForTimeout(1000);
	await page.screenshot({ path: screenshotFile });
	return await outputLabels(page, 'CloMan');
}

export function artifactsDir(root) {
	const dir = path.join(root, 'artifacts', 'e2e');
	fs.mkdirSync(dir, { recursive: true });
	return dir;
}

export { log };
