// ROUTER: how a request picks one of the REPLICAS engines (src/supervisor/routing/).
export const ROUTER_POLICIES = ["prefix", "least-in-flight", "round-robin"] as const;
export type RouterPolicy = (typeof ROUTER_POLICIES)[number];
