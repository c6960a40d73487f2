// Moved: the synthesis helpers are shared by the demo app and the CLI.
export * from '../lib/internal/synthesize';
