/** stages/dns: the resolver library (not a stage) that send (-R), -sL and traceroute share. */
export { Resolver, parseDnsServer, type ResolverOptions, type ResolverCounters } from './resolver.js';
export { encodeQuery, parseReply, readName, reverseQueryName, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_PTR, CLASS_IN, type DnsReply, type DnsAnswer } from './message.js';
export { parseHostsFile, parseResolvConf, type DnsServer } from './system-files.js';
