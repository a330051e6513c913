// shared/queue/ack-batch.ts: a consumer channel's acks, sent at the end of each turn of the event
// loop; the oldest unsettled deliveries acked together go as one ack with `multiple`, any other ack
// alone, and `multiple` never covers a delivery still running. A stand-in channel records the acks.

import type { Channel, ConsumeMessage } from "amqplib";
import { expect } from "chai";
import { AckBatch } from "../../shared/queue/ack-batch.ts";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup() {
  const sent: string[] = [];
  const ch = {
    ack: (msg: ConsumeMessage, multiple = false) => sent.push(`${msg.fields.deliveryTag}${multiple ? "*" : ""}`),
  } as unknown as Channel;
  const failures: unknown[] = [];
  const batch = new AckBatch(ch, (err) => failures.push(err));
  let tag = 0;
  const deliver = (): ConsumeMessage => {
    const msg = { fields: { deliveryTag: ++tag } } as ConsumeMessage;
    batch.received(msg);
    return msg;
  };
  return { sent, batch, deliver, failures };
}

describe("unit: acks of a consumer channel, batched per turn", () => {
  it("the oldest deliveries acked in one turn go as one ack with multiple, nothing before the turn ends", async () => {
    const { sent, batch, deliver } = setup();
    const [a, b, c] = [deliver(), deliver(), deliver()];
    batch.ack(b as ConsumeMessage);
    batch.ack(a as ConsumeMessage);
    batch.ack(c as ConsumeMessage);
    expect(sent).to.deep.equal([]);
    await turn();
    expect(sent).to.deep.equal(["3*"]);
  });

  it("an ack behind a running delivery goes alone, in the same turn; the running one later alone", async () => {
    const { sent, batch, deliver } = setup();
    const [a, b, c] = [deliver(), deliver(), deliver()];
    batch.ack(c as ConsumeMessage);
    batch.ack(b as ConsumeMessage);
    await turn();
    expect(sent).to.have.members(["3", "2"]);
    batch.ack(a as ConsumeMessage);
    await turn();
    expect(sent.slice(2)).to.deep.equal(["1"]);
  });

  it("a delivery settled by a nack does not hold back the run after it", async () => {
    const { sent, batch, deliver } = setup();
    const [a, b, c, d] = [deliver(), deliver(), deliver(), deliver()];
    batch.settled(b as ConsumeMessage); // nacked at once by the consumer
    batch.ack(a as ConsumeMessage);
    batch.ack(c as ConsumeMessage);
    await turn();
    expect(sent).to.deep.equal(["3*"]);
    batch.ack(d as ConsumeMessage);
    await turn();
    expect(sent.slice(1)).to.deep.equal(["4"]);
  });

  it("flush sends at once (before a close); after drop (the channel died) nothing is sent", async () => {
    const { sent, batch, deliver } = setup();
    const [a, b] = [deliver(), deliver()];
    batch.ack(a as ConsumeMessage);
    batch.flush();
    expect(sent).to.deep.equal(["1"]);
    batch.ack(b as ConsumeMessage);
    batch.drop();
    await turn();
    expect(sent).to.deep.equal(["1"]);
  });

  it("an ack that throws (the channel died under it) is reported, not thrown", async () => {
    const failures: unknown[] = [];
    const ch = {
      ack: () => {
        throw new Error("Channel closed");
      },
    } as unknown as Channel;
    const batch = new AckBatch(ch, (err) => failures.push(err));
    const msg = { fields: { deliveryTag: 1 } } as ConsumeMessage;
    batch.received(msg);
    batch.ack(msg);
    await turn();
    expect(failures).to.have.length(1);
  });
});
