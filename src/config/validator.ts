/**
 * The config's validator, compiled from the schema by ajv. The production build replaces this
 * module with the same validator precompiled (ajv standalone, scripts/build.mjs), so that
 * starting does not spend a fifth of its time compiling it.
 */
import { Ajv, type Options, type ValidateFunction } from 'ajv'
import { ConfigSchema, type Config } from './schema.js'

/** The options both ways of compiling use: every error, with its schema and data, for messages. */
export const AJV_OPTIONS: Options = { allErrors: true, verbose: true, discriminator: true, strict: true, keywords: ['hint'] }

export const validateConfig: ValidateFunction<Config> = new Ajv(AJV_OPTIONS).compile<Config>(ConfigSchema)
