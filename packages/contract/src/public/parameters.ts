import { type Static, Type } from 'typebox';
import { jobNamePattern } from '../internal-api.ts';
import { Closed, Timestamp, Uuid } from '../schema.ts';

/**
 * A run's parameters (issue 20). They are customer data, like variables: a client stores
 * them on the workspace's data plane, which checks them against the job's declaration
 * (`params:` in sovereign.yaml) and answers an id; the run is triggered at the control
 * plane with that id only. The job gets the values as `SOV_PARAM_<NAME>` and as a JSON
 * file at `SOV_PARAMS_FILE`.
 */

/** A parameter's name: safe as an environment variable's (`SOV_PARAM_` + its upper case). */
export const parameterNamePattern = '^[A-Za-z_][A-Za-z0-9_]{0,63}$';
export const ParameterTypes = ['string', 'integer', 'number', 'boolean', 'date'] as const;
export type ParameterType = (typeof ParameterTypes)[number];
/** The most parameters a job declares, and a request gives. */
export const maxParameters = 100;
/** The longest value, in characters. */
export const maxParameterValueLength = 8 * 1024;
/** The most a run's values take, as JSON. */
export const maxParametersBytes = 64 * 1024;

/** A value as a client gives it: text from a command line (read by the declared type), or typed JSON. */
export const ParameterValue = Type.Union([
  Type.String({ maxLength: maxParameterValueLength }),
  Type.Number({ minimum: -Number.MAX_VALUE, maximum: Number.MAX_VALUE }),
  Type.Boolean(),
]);
export type ParameterValue = Static<typeof ParameterValue>;

/**
 * Names to values. The names are checked against the job's declaration (an undeclared one
 * is `unknown`), not by a pattern here: OpenAPI 3.0 has no patternProperties, and the
 * served document must say what is validated.
 */
export const ParameterValues = Type.Unsafe<Record<string, ParameterValue>>(
  Type.Object({}, { additionalProperties: ParameterValue, maxProperties: maxParameters }),
);
export type ParameterValues = Static<typeof ParameterValues>;

export const StoreParametersRequest = Closed({
  job: Type.String({ pattern: jobNamePattern }),
  values: ParameterValues,
});
export type StoreParametersRequest = Static<typeof StoreParametersRequest>;

/** A stored set of parameters: the values as the job gets them (typed, defaults filled in). */
export const StoredParameters = Type.Object({
  parametersId: Uuid,
  job: Type.String(),
  values: Type.Unsafe<Record<string, ParameterValue>>(Type.Object({}, { additionalProperties: ParameterValue })),
  createdAt: Timestamp,
});
export type StoredParameters = Static<typeof StoredParameters>;

/** What is wrong with one parameter of a request. */
export const ParameterProblem = Type.Object({
  name: Type.String(),
  problem: Type.Union([
    Type.Literal('unknown'),
    Type.Literal('missing'),
    Type.Literal('wrong_type'),
    Type.Literal('too_large'),
  ]),
  message: Type.String(),
});
export type ParameterProblem = Static<typeof ParameterProblem>;
