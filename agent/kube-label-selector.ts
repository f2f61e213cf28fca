/** A Kubernetes LabelSelector as the API serves it (metav1.LabelSelector). */
export interface LabelSelectorSpec {
  matchLabels?: Record<string, string>;
  matchExpressions?: readonly { key: string; operator: string; values?: readonly string[] }[];
}

/**
 * Whether a selector selects these labels, as the API server and the CNIs evaluate it: every matchLabels
 * pair and every expression must hold; an empty selector selects everything. An operator this code does
 * not know selects nothing (the API server refuses such selectors, so only a newer server could send one).
 */
export function selectorMatches(
  selector: LabelSelectorSpec,
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    if (labels[key] !== value) return false;
  for (const expression of selector.matchExpressions ?? []) {
    const value = labels[expression.key];
    const values = expression.values ?? [];
    switch (expression.operator) {
      case 'In':
        if (value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (value === undefined) return false;
        break;
      case 'DoesNotExist':
        if (value !== undefined) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}
