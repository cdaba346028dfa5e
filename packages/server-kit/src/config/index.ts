export { ConfigError, type Environment, type Problems, readEnvironment, type VariableOptions } from './environment.ts';
export { Flag, LogLevel, logLevelOf, Port, Retired, Secret, Text, WholeNumber } from './variables.ts';
