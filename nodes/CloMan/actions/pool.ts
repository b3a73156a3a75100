/** Run up to `workers` tasks at a time over 0..count-1; stops starting new ones once `stop()` says so. */
export async function runPool(
	count: number,
	workers: number,
	task: (index: number) => Promise<void>,
	stop: () => boolean,
): Promise<void> {
	let next = 0;
	const worker = async () => {
		while (next < count && !stop()) {
			const index = next++;
			await task(index);
		}
	};
	await Promise.all(Array.from({ length: Math.min(workers, count) }, worker));
}
