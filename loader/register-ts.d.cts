// The TypeScript loader is required for its effect (it registers a `.ts` extension handler); it exports nothing.
export {};
