#!/usr/bin/env node
// The end-to-end tests' browser: opens a sign-in page the way a person who
// clicks "Allow" would, following the sandbox's redirects back to the app's
// loopback listener. Started by the app through $BROWSER.
const [link] = process.argv.slice(2);
if (!link) process.exit(2);
try {
  const page = await fetch(link, { redirect: "follow" });
  process.exit(page.ok ? 0 : 1);
} catch (error) {
  console.error(`stand-in browser: ${error}`);
  process.exit(1);
}
