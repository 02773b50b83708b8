// One REST rate limit for every Rumor Mill process: @discordjs/proxy in front of Discord's API.
//
// Every bot process sets DISCORD_API_BASE=http://<this host>:<PROXY_PORT>/api/v10. Each request goes out
// with the caller's own Authorization header through one @discordjs/rest queue, which holds the per-route
// buckets and the global 50 requests/s for all the processes: a request that would break a limit waits
// here instead of reaching Discord, and a 429 from Discord is waited out and retried here, never passed on.
// Retries of 5xx answers stay with the bot (retries: 0), as in the @discordjs/proxy-container image.
//
// The handler is @discordjs/proxy's proxyRequests with one change: it reads the request body into memory
// before queueing it. proxyRequests hands the incoming stream on as the body, so a request retried after
// a 429 went out again without its body (seen in tests/wire/test_wire_proxy.py: an interaction callback with
// no body). Discord's bodies are small (attachments at most a few MiB), so buffering costs little.
//
//   PROXY_HOST      address to listen on (default 127.0.0.1; 0.0.0.0 inside a container)
//   PROXY_PORT      port (default 8080; 0 picks a free one)
//   DISCORD_API     upstream API root without the version (default https://discord.com/api)
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import process from 'node:process';
import { URL } from 'node:url';
import { populateErrorResponse, populateSuccessfulResponse } from '@discordjs/proxy';
import { REST } from '@discordjs/rest';

const host = process.env.PROXY_HOST || '127.0.0.1';
const port = Number.parseInt(process.env.PROXY_PORT ?? '8080', 10);
const api = process.env.DISCORD_API || 'https://discord.com/api';
const FORWARDED = ['content-type', 'authorization', 'x-audit-log-reason'];

async function readBody(req) {
	const chunks = [];
	for await (const chunk of req) chunks.push(chunk);
	return chunks.length ? Buffer.concat(chunks) : undefined;
}

function proxy(rest) {
	return async (req, res) => {
		const url = new URL(req.url, 'http://noop');
		const headers = {};
		for (const name of FORWARDED) {
			if (req.headers[name]) headers[name] = req.headers[name];
		}
		try {
			const response = await rest.queueRequest({
				body: await readBody(req),
				fullRoute: url.pathname.replace(/^\/api(\/v\d+)?/, ''),
				method: req.method,
				auth: false, // the caller's own Authorization header is forwarded
				passThroughBody: true,
				query: url.searchParams,
				headers,
			});
			await populateSuccessfulResponse(res, response);
		} catch (error) {
			if (!populateErrorResponse(res, error)) {
				console.error(error);
				res.statusCode = 502;
			}
		} finally {
			res.end();
		}
	};
}

const server = createServer(proxy(new REST({ api, version: '10', retries: 0 })));

server.listen(port, host, () => {
	const address = server.address();
	console.log(`rumormill rest proxy listening on http://${address.address}:${address.port} -> ${api}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
	process.on(signal, () => {
		// Finish the requests in flight (a bot's last messages), then stop; give up after 5 s.
		server.close(() => process.exit(0));
		server.closeIdleConnections();
		setTimeout(() => process.exit(0), 5000).unref();
	});
}
