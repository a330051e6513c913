// A short soak inside `npm test`: 40 jobs through 2 APIs behind nginx and 3 worker processes, one
// worker SIGKILLed and restarted, the RabbitMQ link cut once. Nothing accepted may be lost, run
// twice, or end with a wrong result. `npm run soak` is the long version (test/helpers/soak.ts).
import { expect } from "chai";
import { formatReport, runSoak } from "../helpers/soak.ts";

describe("faults: short soak (worker kill and RabbitMQ cut under load)", function () {
  this.timeout(90_000);

  it("40 jobs, 1 kill -9, 1 cut: none lost, none duplicated, every result right", async () => {
    const report = await runSoak({ jobs: 40, kills: 1, cuts: 1, seed: 7 });
    const table = formatReport(report);
    console.log(table.replace(/^/gm, "      "));
    expect(report.accepted).to.equal(40);
    expect(report.workerKills).to.equal(1);
    expect(report.cuts).to.equal(1);
    expect(report.submit503, "submits during the cut were refused").to.be.at.least(1);
    expect(report.lost, `lost: ${report.details.lost.join(" ")}`).to.equal(0);
    expect(report.duplicated, `duplicated: ${report.details.duplicated.join(" ")}`).to.equal(0);
    expect(report.wrongResults, `wrong: ${report.details.wrongResults.join(" ")}`).to.equal(0);
    expect(report.failed, `failed: ${report.details.failed.join(" ")}`).to.equal(0);
    expect(report.succeeded).to.equal(40);
    expect(report.historyDisconnects).to.equal(0, "the changes-channel witness saw everything");
  });
});
