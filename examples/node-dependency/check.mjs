import isNumber from 'is-number';

const values = ['42', 'forty-two', 7];
console.log(values.map((value) => `${JSON.stringify(value)} is ${isNumber(value) ? '' : 'not '}a number`).join('\n'));
