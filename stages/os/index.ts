/**
 * OS detection (-O), the engine-independent core: fingerprint computation from the replies the
 * raw probe side collects, matching against nmap-os-db, the submission format, the round policy
 * and the os record (stages/format prints it). See README.md beside this file for what the probe side supplies.
 */
export * from './responses.js';
export { decodeTcpOptions, tcpOptionString, tcpTimestamp } from './tcp-options.js';
export { decodeIpv4Reply, type DecodedOsReply } from './decode.js';
export { classifyIpIds, ipIdClassText, ipIdClassValue, type IpIdClass } from './ipid.js';
export {
  computeFingerprint, crc32, initialTtlGuess,
  type OsFingerprint, type OsFpTest, type OsRoundResult, type OsSeqInfo, type TsClass,
} from './fingerprint.js';
export {
  classify, compareFingerprint, guessList, matchFingerprint, scoreAll, MAX_FP_RESULTS, OSSCAN_GUESS_THRESHOLD,
  type OsClassification, type OsClassMatch, type OsMatchEntry, type OsMatchOutcome, type OsMatchResult,
} from './match.js';
export {
  firstRound, fingerprintText, isPrivateIpv4, mergeRounds, parseSubmission, platformTriple, scanLine, submissionText, testLine,
  type DistanceMethod, type ParsedSubmission, type ScanInfo,
} from './submission.js';
export {
  bestRound, checkMaxOsTries, DEFAULT_MAX_OS_TRIES, hostQualifies, pauseBeforeRound, resultsUnreliable, roundIsFinal, roundsFor,
  unfitReason, UNFIT_OS_TRIES, type SubmissionConditions,
} from './rounds.js';
export { buildOsRecord, listedMatches, seqDifficulty, type OsRecordInput } from './record.js';
export {
  OS_PROBES, OS_TCP_OPTION_SETS, OS_TCP_WINDOWS, OsReplyCollector,
  type OsIcmpProbeSpec, type OsProbeName, type OsProbeSpec, type OsRoundPorts, type OsTcpProbeSpec, type OsUdpProbeSpec,
} from './probes.js';
export { osRecords, choosePorts, choosePorts6, checkOsPrivileges, type OsStageOptions } from './stage.js';
export { OS6_NO_DATABASE, osDetectHost6, type Os6HostPorts } from './exchange6.js';
export * from './fingerprint6.js';
export * from './probes6.js';
export * from './packets6.js';
export { osDetectHost, type OsHostOptions, type OsHostPorts } from './exchange.js';
export { buildOsProbe, buildOsProbes, type BuiltProbe, type OsRoundWire } from './packets.js';
