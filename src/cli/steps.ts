// The cluster steps' names (docs/cluster.md): the command dispatches on them before it loads them.

export const CLUSTER_STEPS = ["plan", "map", "reduce", "merge"] as const;
export type ClusterStep = (typeof CLUSTER_STEPS)[number];
