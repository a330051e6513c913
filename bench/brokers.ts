// The shared brokers the bench uses: the same variables and defaults as the tests.
export const AMQP_URL = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
