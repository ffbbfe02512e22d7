/**
 * Hosts OS-scanned at once. nmap probes a whole host group together; prtip gives each host its own
 * exchange (a send socket and a capture filtered to that host), so the bound is what a scan may
 * hold open at once. A small module: the pipeline reads it to reserve raw handles before a
 * privilege drop without loading the OS stage.
 */
export const DEFAULT_OS_PARALLEL = 64;
