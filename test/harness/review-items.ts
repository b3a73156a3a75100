import type { IDataObject } from 'n8n-workflow';

/**
 * An item as CloMan's Decide puts it out with "Field of Input Item" (key `cloman`), for the Review
 * tests: `cloman` gets `clone` merged in, the item itself `fields`.
 */
export function decidedItem(id: string, decision: string, clone: IDataObject = {}, fields: IDataObject = {}): IDataObject {
	return {
		id,
		customer: `Customer ${id}`,
		amount: 100,
		cloman: {
			decision_id: `d-${id}`,
			decision,
			reasoning: `Reasoning for ${id}`,
			confidence: 0.61,
			confidence_level: 'medium',
			requires_human_review: true,
			was_escalated: false,
			alternatives_considered: [{ action: 'escalate', reason: 'unclear policy', confidence: 0.3 }],
			...clone,
		},
		...fields,
	};
}
