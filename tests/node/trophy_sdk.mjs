// Trophy's official Node SDK (@trophyso/node) against a running gamify: the event, streak and leaderboard
// calls a product makes, with the SDK's own response checks on. Run by tests/integration/trophy/
// test_node_sdk.py with GAMIFY_URL and GAMIFY_API_KEY set; prints what it got as one JSON line.
import { TrophyApiClient } from "@trophyso/node";

const base = process.env.GAMIFY_URL;
const trophy = new TrophyApiClient({
  apiKey: process.env.GAMIFY_API_KEY,
  environment: { api: `${base}/trophy/v1`, admin: `${base}/trophy/admin/v1` },
});
const opts = { timeoutInSeconds: 20, maxRetries: 0 };

const first = await trophy.metrics.event(
  "words",
  { user: { id: "ann", tz: "Europe/London", attributes: { city: "london" } }, value: 10, idempotencyKey: "w-1" },
  opts,
);
const replay = await trophy.metrics.event("words", { user: { id: "ann" }, value: 10, idempotencyKey: "w-1" }, opts);
await trophy.metrics.event("words", { user: { id: "bob" }, value: 25 }, opts);
const streak = await trophy.users.streak("ann", { historyPeriods: 3 }, opts);
const streaks = await trophy.streaks.list({ userIds: ["ann", "bob"] }, opts);
const boards = await trophy.leaderboards.all(opts);
const board = await trophy.leaderboards.get("words-all", {}, opts);
const mine = await trophy.users.leaderboard("ann", "words-all", {}, opts);

console.log(
  JSON.stringify({
    event: { total: first.total, replayed: replay.idempotentReplayed, replayTotal: replay.total, streak: first.currentStreak.length },
    points: first.points?.xp?.added ?? null,
    streak: { length: streak.length, frequency: streak.frequency, history: streak.streakHistory.length },
    streaks: streaks.map((s) => [s.userId, s.streakLength]),
    boards: boards.map((b) => b.key),
    rankings: board.rankings.map((r) => [r.userId, r.rank, r.value]),
    mine: { rank: mine.rank, value: mine.value },
  }),
);
