/** Moved to the platform (both services' forms use it); kept so existing imports still work. Import from there. */
export * from '../../platform/validation.ts'
