/** Types for scripts/gen-types.mjs, used by test/unit/types-in-sync.test.ts. */
export declare const SCHEMA_PATH: string;
export declare const TYPES_PATH: string;
/** The text of src/plan/types.generated.ts for the schema currently on disk. */
export declare function generatePlanTypes(): Promise<string>;
