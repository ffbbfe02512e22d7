/**
 * prtip's own small probe set, used when no nmap-service-probes is installed, so -sV works out
 * of the box. Written for prtip in the same file format (and read by the same parser); it knows
 * the common services only: HTTP(S), SSH, FTP, SMTP, IMAP, POP3, Redis, memcached, MySQL/MariaDB,
 * PostgreSQL, DNS and NTP.
 */
import { parseServiceProbes, type ServiceProbeFile } from './service-probes.js';

export const BUILTIN_PROBES_TEXT = String.raw`
# prtip built-in service probes (own text; same format as nmap-service-probes)

Probe TCP NULL q||
totalwaitms 5000
tcpwrappedms 2000
match ssh m|^SSH-([\d.]+)-OpenSSH_([\w.]+) Debian-(\S+)\r?\n| p/OpenSSH/ v/$2 Debian $3/ i/protocol $1/ o/Linux/ cpe:/a:openbsd:openssh:$2/ cpe:/o:linux:linux_kernel/a
match ssh m|^SSH-([\d.]+)-OpenSSH_([\w.]+) Ubuntu-(\S+)\r?\n| p/OpenSSH/ v/$2 Ubuntu $3/ i/Ubuntu Linux; protocol $1/ o/Linux/ cpe:/a:openbsd:openssh:$2/ cpe:/o:canonical:ubuntu_linux/
match ssh m|^SSH-([\d.]+)-OpenSSH_([\w.]+)[ \r\n]| p/OpenSSH/ v/$2/ i/protocol $1/ cpe:/a:openbsd:openssh:$2/
match ssh m|^SSH-([\d.]+)-dropbear_([\w.]+)\r?\n| p/Dropbear sshd/ v/$2/ i/protocol $1/ cpe:/a:matt_johnston:dropbear_ssh_server:$2/
softmatch ssh m|^SSH-[\d.]+-|
match ftp m|^220 \(vsFTPd ([\w.]+)\)\r\n| p/vsftpd/ v/$1/ o/Unix/ cpe:/a:beasts:vsftpd:$1/
match ftp m|^220 ProFTPD (\S+) Server| p/ProFTPD/ v/$1/ cpe:/a:proftpd:proftpd:$1/
match ftp m|^220[- ].*Pure-FTPd|s p/Pure-FTPd/ cpe:/a:pureftpd:pure-ftpd/
softmatch ftp m|^220[- ][^\r\n]*FTP|i
match smtp m|^220 ([-\w.]+) ESMTP Postfix \(Debian/GNU\)\r\n| p/Postfix smtpd/ h/$1/ o/Linux/ cpe:/a:postfix:postfix/a cpe:/o:linux:linux_kernel/a
match smtp m|^220 ([-\w.]+) ESMTP Postfix| p/Postfix smtpd/ h/$1/ cpe:/a:postfix:postfix/a
match smtp m|^220 ([-\w.]+) ESMTP Exim ([\d.]+)| p/Exim smtpd/ v/$2/ h/$1/ cpe:/a:exim:exim:$2/
softmatch smtp m|^220[- ][^\r\n]*SMTP|i
match imap m|^\* OK \[CAPABILITY [^\]]*\] Dovecot| p/Dovecot imapd/ cpe:/a:dovecot:dovecot/
softmatch imap m|^\* OK[^\r\n]*IMAP|i
match pop3 m|^\+OK Dovecot| p/Dovecot pop3d/ cpe:/a:dovecot:dovecot/
softmatch pop3 m|^\+OK[ \r]|
match mysql m|^.\0\0\0\x0a(5\.5\.5-)?([\d.]+)-MariaDB[^\0]*\0|s p/MariaDB/ v/$2/ cpe:/a:mariadb:mariadb:$2/
match mysql m|^.\0\0\0\x0a([\d.]+)[-\w.~+]*\0|s p/MySQL/ v/$1/ cpe:/a:mysql:mysql:$1/
match mysql m|^.\0\0\0\xffj\x04Host '[^']*' is not allowed|s p/MySQL/ i/unauthorized/ cpe:/a:mysql:mysql/

Probe TCP GetRequest q|GET / HTTP/1.0\r\n\r\n|
rarity 1
ports 80,81,591,8000,8008,8080,8081,8088,8443,8888,9000
sslports 443,8443
match http m|^HTTP/1\.[01] \d\d\d .*\r\nServer: nginx/([\d.]+)\r\n|s p/nginx/ v/$1/ cpe:/a:igor_sysoev:nginx:$1/
match http m|^HTTP/1\.[01] \d\d\d .*\r\nServer: nginx\r\n|s p/nginx/ cpe:/a:igor_sysoev:nginx/
match http m|^HTTP/1\.[01] \d\d\d .*\r\nServer: Apache/([\d.]+) \(([^)\r\n]+)\)|s p/Apache httpd/ v/$1/ i/$2/ cpe:/a:apache:http_server:$1/
match http m|^HTTP/1\.[01] \d\d\d .*\r\nServer: lighttpd/([\d.]+)\r\n|s p/lighttpd/ v/$1/ cpe:/a:lighttpd:lighttpd:$1/
match http m|^HTTP/1\.[01] \d\d\d .*\r\nServer: ([^\r\n/]+)/([\w.]+)\r\n|s p/$1/ v/$2/
softmatch http m|^HTTP/1\.[01] \d\d\d |
match redis m|^-ERR wrong number of arguments for 'get' command\r\n| p/Redis key-value store/ cpe:/a:redislabs:redis/
match memcached m|^ERROR\r\n| p/Memcached/ cpe:/a:memcached:memcached/

Probe TCP Redis q|*1\r\n$4\r\nINFO\r\n|
rarity 2
ports 6379
match redis m|^\$\d+\r\n# Server\r\nredis_version:([\d.]+)\r\n|s p/Redis key-value store/ v/$1/ cpe:/a:redislabs:redis:$1/
match redis m|^-NOAUTH Authentication required| p/Redis key-value store/ i/authentication required/ cpe:/a:redislabs:redis/
match redis m|^-DENIED Redis is running in protected mode| p/Redis key-value store/ i/protected mode/ cpe:/a:redislabs:redis/

Probe TCP Memcached q|version\r\n|
rarity 2
ports 11211
match memcached m|^VERSION ([\d.]+)\r\n| p/Memcached/ v/$1/ cpe:/a:memcached:memcached:$1/

Probe TCP SMTPHello q|EHLO prtip.invalid\r\n|
rarity 3
ports 25,465,587
sslports 465
match smtp m|^220 ([-\w.]+) ESMTP Postfix| p/Postfix smtpd/ h/$1/ cpe:/a:postfix:postfix/a

Probe TCP PostgreSQLStartup q|\0\0\0\x08\x04\xd2\x16\x2f|
rarity 3
ports 5432
match postgresql m|^N$| p/PostgreSQL DB/ i/no TLS/ cpe:/a:postgresql:postgresql/
match postgresql m|^S$| p/PostgreSQL DB/ i/TLS offered/ cpe:/a:postgresql:postgresql/

Probe TCP PostgreSQLBadVersion q|\0\0\0\x14\0\x63\0\0user\0prtip\0\0|
rarity 3
ports 5432
match postgresql m|^E\0\0\0.SFATAL\0VFATAL\0C0A000\0Munsupported frontend protocol 99\.0: server supports ([\d.]+) to ([\d.]+)|s p/PostgreSQL DB/ i/protocol $1 - $2/ cpe:/a:postgresql:postgresql/
match postgresql m|^E\0\0\0.S[A-Z]+\0|s p/PostgreSQL DB/ cpe:/a:postgresql:postgresql/

Probe TCP DNSVersionTCP q|\0\x1e\x12\x34\x01\0\0\x01\0\0\0\0\0\0\x07version\x04bind\0\0\x10\0\x03|
rarity 3
ports 53
match domain m|^..\x12\x34\x85\x80\0\x01\0\x01.*\x07version\x04bind\0\0\x10\0\x03\xc0\x0c\0\x10\0\x03\0\0\0\0..(?:.)dnsmasq-([\w.]+)|s p/dnsmasq/ v/$1/ cpe:/a:thekelleys:dnsmasq:$1/
match domain m|^..\x12\x34\x85\x80\0\x01\0\x01.*\x07version\x04bind\0\0\x10\0\x03\xc0\x0c\0\x10\0\x03\0\0\0\0..(?:.)([\d.]+-?[-\w.]*)|s p/ISC BIND/ v/$1/ cpe:/a:isc:bind:$1/
softmatch domain m|^..\x12\x34[\x80-\x8f]|s

Probe UDP DNSVersion q|\x12\x34\x01\0\0\x01\0\0\0\0\0\0\x07version\x04bind\0\0\x10\0\x03|
rarity 1
ports 53,5353
match domain m|^\x12\x34\x85\x80\0\x01\0\x01.*\x07version\x04bind\0\0\x10\0\x03\xc0\x0c\0\x10\0\x03\0\0\0\0..(?:.)dnsmasq-([\w.]+)|s p/dnsmasq/ v/$1/ cpe:/a:thekelleys:dnsmasq:$1/
match domain m|^\x12\x34\x85\x80\0\x01\0\x01.*\x07version\x04bind\0\0\x10\0\x03\xc0\x0c\0\x10\0\x03\0\0\0\0..(?:.)([\d.]+-?[-\w.]*)|s p/ISC BIND/ v/$1/ cpe:/a:isc:bind:$1/
softmatch domain m|^\x12\x34[\x80-\x8f]|s

Probe UDP NTPClient q|\xe3\0\x04\xfa\0\x01\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\xc5\x4f\x23\x4b\x71\xb1\x52\xf3|
rarity 1
ports 123
match ntp m|^[\x1c\x24]\x01\0..\0\0|s p/NTP/ i/stratum 1/
match ntp m|^[\x1c\x24][\x02-\x0f]|s p/NTP/ v/v4/
softmatch ntp m|^[\x0c\x14\x1c\x24\x2c]|

Probe TCP SSLClientHello q|\x16\x03\x01\0\x61\x01\0\0\x5d\x03\x03\x70\x72\x74\x69\x70\x2d\x74\x6c\x73\x2d\x68\x65\x6c\x6c\x6f\x2d\x70\x72\x6f\x62\x65\x2d\x6e\x6f\x74\x2d\x72\x61\x6e\x64\x6f\x6d\x21\x21\0\0\x10\xc0\x2f\xc0\x2b\xc0\x30\xc0\x2c\x00\x9c\x00\x9d\x00\x2f\x00\x35\x01\0\0\x24\0\x0a\0\x08\0\x06\0\x17\0\x18\0\x1d\0\x0b\0\x02\x01\0\0\x0d\0\x0e\0\x0c\x04\x01\x04\x03\x05\x01\x05\x03\x08\x04\x08\x05|
rarity 1
ports 443,465,636,853,989,990,992,993,995,5061,6697,8443
match ssl m|^\x16\x03[\x00-\x04]..\x02|s p/TLS/
match ssl m|^\x15\x03[\x00-\x04]\0\x02\x02|s p/TLS/ i/handshake alert/

Probe TCP IMAPCapability q|a001 CAPABILITY\r\n|
rarity 4
ports 143,993
sslports 993
softmatch imap m|^\* CAPABILITY |

Probe TCP POP3Capa q|CAPA\r\n|
rarity 4
ports 110,995
sslports 995
softmatch pop3 m|^\+OK|
`;

let cached: ServiceProbeFile | undefined;

export function builtinProbes(): ServiceProbeFile {
  cached ??= parseServiceProbes(BUILTIN_PROBES_TEXT, 'builtin');
  return cached;
}
